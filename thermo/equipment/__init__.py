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
* :mod:`.events`    time-dependent switches for transients.
"""
