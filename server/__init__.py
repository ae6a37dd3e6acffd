"""Yichuang (一窗): the server for township service centres and the county centre."""

__version__ = "0.1.0"
