from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "hospitium.feedback"
    label = "feedback"
    verbose_name = "Feedback"
