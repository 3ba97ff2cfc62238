"""The stack's configuration, read and validated before any resource exists: the parser (stack.py and the modules
per area), the frozen settings model the components receive (settings.py), the production guardrails, the naming
rules, the image lock, the Batch image catalogue, and what the settings imply for the operator preflight."""
