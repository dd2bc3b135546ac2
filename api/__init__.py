"""The read-only API (/api/v1/): legal entities with their Volet 1 and Volet 2 status,
and applications, each scoped exactly as the portal's pages; personal tokens
(accounts/api_tokens.py), throttling per token, the OpenAPI schema and its docs.
The top layer but the demo: it reads every app below it and nothing imports it but
the URL conf."""
