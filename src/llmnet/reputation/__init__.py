"""Where reputation changes: pure update rules, selection policies, consensus."""
