DROP TABLE webhooks_deliveries;
DROP TABLE webhooks_subscriptions;
