"""The debtor file: finding a debtor, reading everything about it, and the actions staff
take on it (notes, holds, contact points). Read services here; the rules they apply
(holds, opt-outs, quality, workability, masking) live in `core.collection` and
`core.masking`."""
