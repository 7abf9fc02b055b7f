"""Google's APIs, emulated over the sandbox's runtime and reached through Google's own
clients: Cloud Run Admin v2, Artifact Registry v1, Cloud Build v1, Resource Manager v3 and
Cloud Logging v2 over REST, Cloud Monitoring v3 over gRPC. Every refusal is a
`errors.GoogleApiError`.
"""

__all__: list[str] = []
