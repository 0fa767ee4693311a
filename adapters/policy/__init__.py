"""Cedar (cedarpy) behind the policy port: schema, default policies, validation, the engine."""
