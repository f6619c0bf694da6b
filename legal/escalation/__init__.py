"""Legal escalation: rules that pick eligible debts and a path for each (credit-bureau
listing with prior notice, protest at the notary through the CRA, judicial handoff),
every decision and state change recorded with the rule or person that made it."""
