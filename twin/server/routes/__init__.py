"""One router per resource; each route declares its roles with ``twin.server.auth.requires``."""
