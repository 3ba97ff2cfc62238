"""Offline twins of `pulumi preview` and `pulumi preview --policy-pack`: the real program under the mock engine."""
