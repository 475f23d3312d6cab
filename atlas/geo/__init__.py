"""Geography: the districts and regions of Lower Saxony, point assignment, geocoding and
geodesy."""
