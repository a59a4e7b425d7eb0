"""Operations: load, apply a domain rule, persist, audit; each owns its transaction."""
