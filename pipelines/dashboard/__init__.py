"""The release dashboard: releases, deploys and rollbacks read from tags and the stack file, their metrics
and charts, assembled into one HTML page."""
