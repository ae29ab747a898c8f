"""The local stack: real stand-ins for AWS (moto server), GitLab's ID tokens (a signing OIDC issuer) and
GitLab's runner (gitlab-ci-local), started on loopback on free ports by tests, `make demo` and `make bench`."""
