"""The village agent's offline app: the static page shells of /agent (issue 6)."""
