"""What makes the village agent's offline app: the service worker, the manifest, module URLs."""
