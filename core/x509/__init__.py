"""Certificate engine on `cryptography`: keys, CSRs, parsing, inspection, chains, identities."""
