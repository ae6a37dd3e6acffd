"""Cases (办件): one application for one item, from intake to delivery."""
