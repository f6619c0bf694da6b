"""The collection engine's shared rules: whether a debt may be worked, holds, the
ledger, contact points and their opt-outs, contact attempts and agency-wide counts."""
