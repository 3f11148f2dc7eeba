"""Studies, their sites, and who on the staff may do what in them."""
