"""Django's PostgreSQL backend with OpenSPC's pool check (`ENGINE = "openspc.postgresql"`)."""
