-- Recall impact and where-used count thousands of units by state. A unit is on hold when its
-- panel is held (among others); held panels are few, so the impact reads the held panels from
-- this partial index (a handful of entries) instead of looking up the panel of every unit.
-- Only panels whose flag is set have an entry: writing a panel that is not held costs nothing.
CREATE INDEX panels_on_hold_idx ON panels (id) WHERE on_hold;
