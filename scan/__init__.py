"""Independent evidence: the stacks' ARM resources and rendered Helm chart, scanned by Checkov (`make scan`)."""
