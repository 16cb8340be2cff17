from audit.registry import Category, declare

# 600-619: encryption at rest.
ROTATION_STARTED = declare(
    600, "encryption.rotation_started", Category.SECURITY, "{actor} started re-encrypting data with a new key"
)
ROTATION_FINISHED = declare(
    601, "encryption.rotation_finished", Category.SECURITY, "re-encryption of data with a new key finished"
)
ORG_KEY_DESTROYED = declare(
    602, "encryption.org_key_destroyed", Category.SECURITY,
    "{actor} destroyed the organization's data key (its encrypted data is unreadable)",
)  # fmt: skip
