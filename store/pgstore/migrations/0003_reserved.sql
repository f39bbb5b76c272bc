-- Version 3 is reserved for a migration of another branch under way when version 4 was
-- written (migration versions have no holes). This placeholder changes nothing; drop it
-- when that migration lands as version 3.
SELECT 1;
