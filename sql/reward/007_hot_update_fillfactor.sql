-- accounts and daily_paid are rewritten at every grant (balances, the day's
-- coins) and hold few rows, so the same pages are updated over and over.
-- Leaving half of each page free lets an update put the new row version in
-- the same page (a HOT update: no index entry, pruned in place), instead of
-- moving it to another page and adding index entries every time the page
-- is full. Applies to pages written from now on.
ALTER TABLE accounts SET (fillfactor = 50);
ALTER TABLE daily_paid SET (fillfactor = 50);
