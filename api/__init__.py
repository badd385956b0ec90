"""The coordinators' and participants' interfaces: the CLI, the web app, and the service both use."""
