"""Run commands: submit an intent, decide, approve or deny escalations, edit policies."""
