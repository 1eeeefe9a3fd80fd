"""OpenEngage: a self-hosted customer data platform speaking the WebEngage and MoEngage APIs."""

__version__ = "0.1.0"
