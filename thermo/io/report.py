"""``report.md``: a short human-readable report of a run, with the plots embedded.

Built only from ``summary.json`` (see docs/outputs.md) and the relative paths
of the PNG files, so the report and the summary can never disagree.
"""

from __future__ import annotations

from pathlib import Path


def _num(value, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(header, rows) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _ashrae_status(ashrae) -> str:
    if not isinstance(ashrae, dict):
        return str(ashrae) if ashrae is not None else "n/a"
    label = ashrae.get("class", "")
    parts = []
    for key in ("recommended", "allowable"):
        value = ashrae.get(key)
        if isinstance(value, bool):
            parts.append(f"{key}: {'ok' if value else 'OUT'}")
        elif value is not None:
            parts.append(f"{key}: {value}")
    return f"{label} " + ", ".join(parts) if parts else str(label)


def _generic_rows(items, skip=("name",)):
    """Columns: name, then every scalar key (in first-seen order) of the item dicts."""
    keys = []
    for item in items:
        for key, value in item.items():
            if key not in skip and key not in keys and (value is None or isinstance(value, (int, float, str, bool))):
                keys.append(key)
    rows = [[str(item.get("name", i))] + [_num(item.get(k), 2) for k in keys] for i, item in enumerate(items)]
    return ["name"] + keys, rows


def event_label(event: dict) -> str:
    """A short description of a transient event dict (``cooler``/``action`` or ``rack``/``power_kW``)."""
    if event.get("name"):
        return str(event["name"])
    if event.get("cooler"):
        return f"cooler {event['cooler']} {event.get('action', '')}".strip()
    if event.get("rack"):
        power = event.get("power_kW")
        return f"rack {event['rack']} to {_num(power, 1)} kW" if power is not None else f"rack {event['rack']}"
    return "event"


def ride_through_text(transient: dict) -> str:
    """One sentence on the ride-through time (s) of a transient summary."""
    ride = transient.get("ride_through_s")
    limit = transient.get("ride_through_limit_C")
    limit_text = f" ({_num(limit, 1)} C)" if limit is not None else ""
    if ride is None:
        return f"no rack intake exceeded the allowable limit{limit_text} during the transient"
    rack = transient.get("ride_through_rack")
    who = f"rack {rack}'s intake" if rack else "the first rack intake"
    after, event = transient.get("ride_through_after_event_s"), transient.get("ride_through_event")
    if after is not None and event:
        return (f"ride-through time: {_num(after, 1)} s after {event_label(event)} at {_num(event['time_s'], 1)} s: "
                f"{who} exceeded the allowable limit{limit_text} at t = {_num(ride, 1)} s")
    return f"ride-through time: {_num(ride, 1)} s until {who} exceeded the allowable limit{limit_text}"


def facility_section(facility: dict) -> list[str]:
    """Markdown lines of the facility energy (``summary["facility"]``, powers in W)."""
    kw = lambda w: _num(None if w is None else w / 1e3, 2)  # noqa: E731
    out = ["## Facility energy", ""]
    rows = [["IT", kw(facility.get("it_W"))], ["UPS losses", kw(facility.get("ups_loss_W"))],
            ["distribution losses", kw(facility.get("distribution_loss_W"))],
            ["cooling", kw(facility.get("cooling_W"))], ["total facility", kw(facility.get("total_W"))],
            ["PUE", _num(facility.get("pue"), 3)]]
    out += _table(["quantity", "kW"], rows)
    breakdown = facility.get("breakdown", {}) or {}
    if breakdown:
        out += ["Cooling power by item:", ""] + _table(["item", "kW"], [[k, kw(v)] for k, v in breakdown.items()])
    loops = facility.get("loops", []) or []
    if loops:
        rows = [[lp.get("name"), lp.get("type"), kw(lp.get("load_W")), _num(lp.get("cop"), 2),
                 _num(lp.get("free_cooling")), kw(lp.get("compressor_W")), kw(lp.get("fans_W")),
                 kw(lp.get("pumps_W"))] for lp in loops]
        out += _table(["loop", "type", "load (kW)", "COP", "free cooling", "compressors (kW)", "fans (kW)",
                       "pumps (kW)"], rows)
    return out


def _fan_text(rack: dict) -> str:
    """The rack table's fan cell: the pressure rise of a fan-curve rack (Pa), 'STALLED' when its
    curve cannot meet it, 'fixed' for a rack with a fixed flow rule."""
    if "fan_pressure_Pa" not in rack:
        return "fixed"
    text = _num(rack.get("fan_pressure_Pa"), 1)
    return f"{text} STALLED" if rack.get("fan_stalled") else text


def render_report(summary: dict, images: dict | None = None) -> str:
    """The report as Markdown text.  ``images`` maps a caption to a PNG path relative to the report."""
    images = images or {}
    out = [f"# thermo report: {summary.get('scenario', 'unnamed scenario')}", ""]
    status = summary.get("status", "converged" if summary.get("converged", True) else "not_converged")
    if status != "converged":
        out += ["**Warning: the solution did not converge.** The numbers below are those of the last step.", ""]
    for warning in summary.get("warnings", []) or []:
        out.append(f"- warning: {warning}")
    if summary.get("warnings"):
        out.append("")

    racks = summary.get("racks", []) or []
    if racks:
        out += ["## Racks", ""]
        fans = any("fan_pressure_Pa" in r for r in racks)
        rows = [[r.get("name"), _num(r.get("inlet_mean_C")), _num(r.get("inlet_max_C")), _num(r.get("exhaust_C")),
                 _num(r.get("power_kW")), _num(r.get("flow_m3s"), 3)]
                + ([_fan_text(r)] if fans else []) + [_ashrae_status(r.get("ashrae"))] for r in racks]
        out += _table(["rack", "intake mean (C)", "intake max (C)", "exhaust (C)", "power (kW)", "flow (m3/s)"]
                      + (["fan pressure rise (Pa)"] if fans else []) + ["ASHRAE"], rows)
        if fans:
            out += ["Fan-curve racks run where their curve meets the pressure rise from their front to their "
                    "back face in the solution (flow, pressure rise); the other racks have fixed flows.", ""]
    sensors = summary.get("sensors", []) or []
    if sensors:
        out += ["## Sensors", ""]
        rows = [[s.get("name"), _num(s.get("x"), 2), _num(s.get("y"), 2), _num(s.get("z"), 2),
                 _num(s.get("temperature_C"), 2), _num(s.get("measured_C"), 2), _num(s.get("error_K"), 2)]
                for s in sensors]
        out += _table(["sensor", "x (m)", "y (m)", "z (m)", "predicted (C)", "measured (C)", "error (K)"], rows)
        errors = summary.get("sensor_errors") or {}
        if errors:
            out += [f"Mean-abs error {_num(errors.get('mean_abs_K'), 2)} K, max-abs error "
                    f"{_num(errors.get('max_abs_K'), 2)} K ({errors.get('max_abs_sensor')}), bias (mean of "
                    f"predicted - measured) {_num(errors.get('mean_K'), 2)} K over {errors.get('count')} sensors "
                    f"of {errors.get('file')}.", ""]
    for key, title in (("coolers", "Cooling units"), ("tiles", "Perforated tiles"), ("returns", "Returns"),
                       ("rear_doors", "Rear-door heat exchangers"), ("cold_plates", "Cold plates (per rack)"),
                       ("cdus", "Coolant distribution units")):
        items = summary.get(key, []) or []
        if items:
            header, rows = _generic_rows(items)
            out += [f"## {title}", ""] + _table(header, rows)

    tanks = summary.get("tanks", []) or []
    if tanks:
        out += ["## Immersion tanks", ""]
        rows = [[t.get("name"), t.get("liquid"), _num(t.get("server_power_kW")), _num(t.get("max_fluid_C")),
                 _num(t.get("outlet_C")), _num(t.get("supply_C")), _num(t.get("hx_load_kW"), 2),
                 _num(t.get("surface_loss_kW"), 3), _num(t.get("energy_closure_pct"), 3),
                 _num(t.get("facility_supply_C")), _num(t.get("facility_return_C")), _num(t.get("pump_power_kW"), 2)]
                for t in tanks]
        out += _table(["tank", "liquid", "servers (kW)", "max fluid (C)", "outlet (C)", "HX supply (C)",
                       "HX load (kW)", "surface loss (kW)", "closure (%)", "facility in (C)", "facility out (C)",
                       "pump (kW)"], rows)
        coupling = summary.get("tank_coupling") or {}
        if coupling:
            history = coupling.get("history") or []
            change = max(history[-1].get("loss_change_pct_of_power") or [0.0]) if history else None
            out += [f"Tank and room solved to a consistent surface loss in {coupling.get('outer_iterations')} "
                    f"outer iteration(s); last change of a tank's loss {_num(change, 3)} % of its power "
                    f"(tolerance {_num(coupling.get('tolerance_pct_of_power'), 2)} %).", ""]

    metrics = summary.get("metrics", {}) or {}
    if metrics or "energy_balance_pct" in summary:
        out += ["## Metrics", ""]
        rows = [[k, _num(v, 2)] for k, v in metrics.items() if not isinstance(v, (dict, list))]
        if "energy_balance_pct" in summary:
            rows.append(["energy balance (%)", _num(summary["energy_balance_pct"], 3)])
        out += _table(["metric", "value"], rows)

    facility = summary.get("facility")
    if facility:
        out += facility_section(facility)

    grid = summary.get("grid", {}) or {}
    solver = summary.get("solver", {}) or {}
    out += ["## Solver", ""]
    rows = [["cells", _num(grid.get("cells"), 0)], ["grid shape", " x ".join(str(n) for n in grid.get("shape", []))],
            ["steps", _num(solver.get("steps"), 0)], ["wall time (s)", _num(solver.get("seconds"), 1)],
            ["compile time (s)", _num(solver.get("compile_seconds"), 1)],
            ["converged", _num(solver.get("converged"))], ["stop reason", solver.get("reason", "")]]
    out += _table(["quantity", "value"], rows)
    averaged = solver.get("averaged")
    if averaged:
        out += [f"The flow did not settle; the rack table and metrics are averages over the last "
                f"{averaged['steps']} steps. Instantaneous rack intakes, sampled every 100 steps over them, moved "
                "within these ranges (degC):", ""]
        means, maxima = averaged.get("rack_inlet_mean_range_C", {}), averaged.get("rack_inlet_max_range_C", {})
        out += _table(["rack", "intake mean range", "intake max range"],
                      [[name, f"{_num(lo, 2)} - {_num(hi, 2)}",
                        f"{_num(maxima[name][0], 2)} - {_num(maxima[name][1], 2)}" if name in maxima else ""]
                       for name, (lo, hi) in means.items()])

    transient = summary.get("transient")
    if transient:
        out += ["## Transient", ""]
        times = transient.get("times_s", [])
        if times:
            out.append(f"- simulated {times[0]:g} to {times[-1]:g} s, {len(times)} reported times")
        out.append(f"- {ride_through_text(transient)}")
        for event in transient.get("events", []) or []:
            out.append(f"- event at {_num(event.get('time_s'), 1)} s: {event_label(event)}")
        out.append("")

    if images:
        out += ["## Plots", ""]
        for caption, path in images.items():
            out += [f"### {caption}", "", f"![{caption}]({Path(path).as_posix()})", ""]
    return "\n".join(out)


def write_report(path, summary: dict, images: dict | None = None) -> Path:
    """Write :func:`render_report` to ``path``; returns the path."""
    path = Path(path)
    path.write_text(render_report(summary, images))
    return path
