"""The health gate's Kubernetes edge: kubeconfigs and credentials, the exec plugin's time limit, the API client."""
