"""Pulumi components of coa-lockdown; each module owns one ComponentResource and its typed args."""
