"""Creditor onboarding, tenant users and policies, portfolio intake."""

# The kernel first, even when a module of this package is the first one a process
# imports: it configures polars' allocator, which only works before polars loads.
import core  # noqa: F401
