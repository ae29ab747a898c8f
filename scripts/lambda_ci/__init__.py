"""lambda-ci: deploy AWS Lambda functions from GitLab CI/CD, safely."""

__version__ = "0.1.0"
