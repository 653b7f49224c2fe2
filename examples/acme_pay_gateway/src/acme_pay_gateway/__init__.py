"""Acme Pay for lms-billing: an example third-party payment gateway plugin."""

from acme_pay_gateway.gateway import AcmePayGateway

__all__ = ["AcmePayGateway"]
