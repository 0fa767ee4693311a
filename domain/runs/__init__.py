"""Runs: an intent, the plan a model proposed, the policy's decision, and what was executed."""
