from django.apps import AppConfig


class ChannelsPluginsConfig(AppConfig):
    name = "channels_plugins"
    verbose_name = "Channel plugins"
