"""Small technical helpers that import nothing else of Accolade, so any layer may use them:
`urls` (the operator's URLs), `background` (the sleep-until-kicked loop of the relay and the
contest scheduler)."""
