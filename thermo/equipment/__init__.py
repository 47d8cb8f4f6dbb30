"""Equipment models: each turns scene objects into core fields and coupling terms.

* :mod:`.assembly`  mutable field arrays while a hall is assembled;
* :mod:`.faces`     the cell layer in front of a box face (shared by racks and coolers);
* :mod:`.rack`      IT racks (intake sink, exhaust source at intake mean + P/(rho cp Q), leakage);
* :mod:`.cooler`    CRAH/CRAC and in-row units (return sink, supply source, capacity, fan power);
* :mod:`.tiles`     perforated tiles (inflow openings or plenum face losses) and the loss correlation;
* :mod:`.leakage`   raised-floor leakage through seams and cutouts;
* :mod:`.openings`  return grilles and fixed-pressure openings;
* :mod:`.containment` aisle containment panels;
* :mod:`.obstruction` columns, cable trays, pipes, under-floor blockages;
* :mod:`.events`    time-dependent switches for transients;
* :mod:`.hx`        effectiveness-NTU relations (pure JAX) and their inversion;
* :mod:`.ratings`   UA of rear doors and CDUs from data-sheet rating points;
* :mod:`.rear_door` rear-door heat exchangers (exhaust cooled by eps-NTU, porous layer);
* :mod:`.cold_plate` direct-to-chip cold plates (capture ratio, case temperature);
* :mod:`.cdu`       coolant distribution units and the cold-plate loop they close;
* :mod:`.hybrid`    doors, plates and CDUs in the per-step coupling, summary rows;
* :mod:`.facility`  heat rejection, fans, pumps, UPS and distribution losses, PUE.
"""
