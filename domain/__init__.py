"""Pure domain of runflow: plans, phases, rules. No Temporal, no I/O."""
