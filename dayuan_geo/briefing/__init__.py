"""The monthly briefing (汇报材料) as PDF and Word, from the same queries as the overview."""
