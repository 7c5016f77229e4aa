from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "hospitium.campaigns"
    label = "campaigns"
    verbose_name = "Campaigns"
