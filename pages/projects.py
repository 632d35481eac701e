"""Projects: list with status, create with every setting, edit, rename, delete, import a zip."""

from typing import Any

import pandas as pd
import streamlit as st

import app_support
from dinoad.config import ProjectConfig, check_image_size
from dinoad.config_form import FieldSpec, field_specs, patch_size_of
from dinoad.demo_project import DEMO_COUNTS, DEMO_IMAGE_SIZE, create_demo_project
from dinoad.doctor import DoctorReport, diagnose
from dinoad.errors import DinoadError
from dinoad.project import NAME_RULE
from dinoad.project_status import ProjectStatus
from dinoad.zip_import import PLAIN_LAYOUT_HINT, import_zip

DEMO_NAME = "demo"
DOCTOR_KEY = "doctor_report"  # the last model access report, kept across reruns


def status_label(status: ProjectStatus) -> str:
    if status.error:
        return "error: " + status.error
    if status.retrain_required:
        return "retrain required"
    return "trained" if status.trained else "not trained"


def status_table(statuses: list[ProjectStatus]) -> pd.DataFrame:
    rows = []
    for status in statuses:
        rows.append({
            "project": status.name,
            "background": status.counts.get("background", 0),
            "train good": status.counts.get("train/good", 0),
            "test good": status.counts.get("test/good", 0),
            "test defect": status.counts.get("test/defect", 0),
            "status": status_label(status),
            "threshold": status.threshold,
            "AUROC": status.image_auroc,
            "model version": status.model_version,
            "model": status.config.model_id if status.config else None,
        })
    return pd.DataFrame(rows)


def setting_input(spec: FieldSpec, value: Any, key: str) -> Any:
    if spec.kind == "choice":
        return st.selectbox(spec.label, spec.choices, index=spec.choices.index(value), help=spec.help, key=key)
    if spec.kind == "int":
        return int(st.number_input(spec.label, value=int(value), min_value=_int_or_none(spec.minimum),
                                   max_value=_int_or_none(spec.maximum), step=int(spec.step or 1),
                                   help=spec.help, key=key))
    if spec.kind == "float":
        return float(st.number_input(spec.label, value=float(value), min_value=spec.minimum, max_value=spec.maximum,
                                     step=spec.step, format="%.4g", help=spec.help, key=key))
    if spec.kind == "bool":
        return st.checkbox(spec.label, value=bool(value), help=spec.help, key=key)
    return st.text_input(spec.label, value=str(value), help=spec.help, key=key)


def _int_or_none(value: float | None) -> int | None:
    return None if value is None else int(value)


def settings_inputs(config: ProjectConfig, prefix: str) -> dict[str, Any]:
    """Inputs for every editable setting, pre-filled from ``config``; returns the chosen values."""
    current = config.to_dict()
    specs = field_specs()
    values: dict[str, Any] = {}
    columns = st.columns(2)
    for index, spec in enumerate(s for s in specs if not s.advanced):
        with columns[index % 2]:
            values[spec.name] = setting_input(spec, current[spec.name], f"{prefix}_{spec.name}")
    with st.expander("Advanced settings"):
        for spec in (s for s in specs if s.advanced):
            values[spec.name] = setting_input(spec, current[spec.name], f"{prefix}_{spec.name}")
    return values


def validated_config(base: ProjectConfig, values: dict[str, Any]) -> ProjectConfig:
    """The config with the form's values, checked, including the resolution against the model."""
    config = ProjectConfig.from_dict({**base.to_dict(), **values})
    check_image_size(config.image_size, patch_size_of(config.model_id))
    return config


def create_section(store) -> None:
    with st.form("create_project"):
        name = st.text_input("Project name", help=NAME_RULE, key="new_name")
        values = settings_inputs(ProjectConfig(), "new")
        submitted = st.form_submit_button("Create project", type="primary")
    if submitted:
        try:
            project = store.create(name, validated_config(ProjectConfig(), values))
        except DinoadError as exc:
            app_support.show_error(exc)
            return
        app_support.set_current_project(project.name)
        app_support.flash("success", f"Created project {project.name!r}. Next: capture images on the Capture page.")
        st.rerun()


def settings_section(project, status: ProjectStatus) -> None:
    if status.config is None:
        st.error(status.error or "the project's settings cannot be read")
        return
    if status.retrain_required:
        st.badge("Retrain required", icon=":material/warning:", color="orange")
        st.caption("Changed since training: " + "; ".join(status.retrain_reasons))
    elif status.trained:
        st.badge("Trained", icon=":material/check:", color="green")
    with st.form("edit_settings"):
        values = settings_inputs(status.config, "edit")
        submitted = st.form_submit_button("Save settings")
    if submitted:
        try:
            project.save_config(validated_config(status.config, values))
        except DinoadError as exc:
            app_support.show_error(exc)
            return
        app_support.flash("success", "Settings saved.")
        st.rerun()


def import_section(project, status: ProjectStatus) -> None:
    st.caption("A zip with folders " + PLAIN_LAYOUT_HINT + ".")
    upload = st.file_uploader("Zip of images", type=["zip"], key="import_zip")
    if upload is not None and st.button("Import", key="import_button"):
        shots = status.config.shots if status.config else None
        try:
            with st.spinner("Importing..."):
                report = import_zip(project, upload, shots=shots, add_good=project.add_good_image)
        except DinoadError as exc:
            app_support.show_error(exc)
            return
        app_support.flash("success", f"Imported {len(report.added)} images into {project.name!r}.")
        for name, reason in report.rejected:
            app_support.flash("warning", f"Not imported: {name}: {reason}")
        st.rerun()


def rename_delete_section(store, project) -> None:
    left, right = st.columns(2)
    with left, st.form("rename_project"):
        new_name = st.text_input("New name", help=NAME_RULE, key="rename_to")
        if st.form_submit_button("Rename"):
            try:
                renamed = store.rename(project.name, new_name)
            except DinoadError as exc:
                app_support.show_error(exc)
            else:
                app_support.set_current_project(renamed.name)
                app_support.flash("success", f"Renamed {project.name!r} to {renamed.name!r}.")
                st.rerun()
    with right, st.form("delete_project"):
        confirm = st.text_input(f"Type {project.name!r} to delete it with all its images", key="delete_confirm")
        if st.form_submit_button("Delete project"):
            try:
                store.delete(project.name, confirm)
            except DinoadError as exc:
                app_support.show_error(exc)
            else:
                app_support.set_current_project(None)
                app_support.flash("success", f"Deleted project {project.name!r}.")
                st.rerun()


def spec_named(name: str) -> FieldSpec:
    return next(spec for spec in field_specs() if spec.name == name)


def demo_section(store) -> None:
    """Create the synthetic demo project: a newcomer trains and goes live without a camera."""
    st.caption(f"A complete synthetic project: a textured part on a plain background with {DEMO_COUNTS['background']} "
               f"empty-scene images, {DEMO_COUNTS['good']} good parts and {DEMO_COUNTS['defect']} defects (scratch, "
               "missing corner, spot, crack), plus a clip of parts passing by (demo/clip.y4m) to use as a camera "
               "on the Live page. Nothing is downloaded.")
    with st.form("create_demo"):
        name = st.text_input("Project name", value=DEMO_NAME, help=NAME_RULE, key="demo_name")
        left, right = st.columns(2)
        with left:
            model_id = setting_input(spec_named("model_id"), ProjectConfig().model_id, "demo_model_id")
        with right:
            image_size = setting_input(spec_named("image_size"), DEMO_IMAGE_SIZE, "demo_image_size")
        submitted = st.form_submit_button("Create demo project", type="primary")
    if not submitted:
        return
    try:
        model_id = model_id.strip()
        check_image_size(image_size, patch_size_of(model_id))
        with st.spinner("Generating the demo images and clip..."):
            project = create_demo_project(store, name, model_id)
            config = project.load_config()
            if config.image_size != image_size:
                project.save_config(config.replace(image_size=image_size))
    except DinoadError as exc:
        app_support.show_error(exc)
        return
    app_support.set_current_project(project.name)
    total = sum(project.counts().values())
    app_support.flash("success", f"Created demo project {project.name!r} with {total} images and a demo clip in "
                                 f"{project.path / 'demo'}. Next: train it on the Train page.")
    st.rerun()


CHECK_ICONS = {True: ":material/check_circle:", None: ":material/info:"}


def show_doctor_report(report: DoctorReport) -> None:
    with st.container(key="doctor_report"):
        st.markdown(f"Model **{report.model_id}**")
        for check in report.checks:
            line = f"**{check.name}**: {check.detail}"
            if check.ok is False:
                st.error(line + (f"  \nFix: {check.fix}" if check.fix else ""), icon=":material/error:")
            else:
                st.markdown(f"{CHECK_ICONS[check.ok]} {line}")
        if report.ok:
            st.success(f"Ready: one forward pass took {report.forward_ms:.0f} ms on this machine.")
        else:
            st.error("This model cannot be used yet: see the fixes above.")


def doctor_section(config: ProjectConfig) -> None:
    """The model access check (``python -m dinoad doctor``): reachable, cached, gated, token, device, a timed
    forward pass. The token itself is never shown: the report only says whether one is set."""
    with st.form("doctor"):
        model_id = setting_input(spec_named("model_id"), config.model_id, "doctor_model_id")
        left, right = st.columns(2)
        with left:
            dtype = setting_input(spec_named("dtype"), config.dtype, "doctor_dtype")
        with right:
            image_size = setting_input(spec_named("image_size"), config.image_size, "doctor_image_size")
        submitted = st.form_submit_button("Check model access")
    if submitted:
        with st.spinner("Checking the model (a first download can take minutes)..."):
            try:
                st.session_state[DOCTOR_KEY] = diagnose(model_id.strip(), dtype, image_size)
            except DinoadError as exc:
                st.session_state.pop(DOCTOR_KEY, None)
                app_support.show_error(exc)
    report = st.session_state.get(DOCTOR_KEY)
    if report is not None:
        show_doctor_report(report)


st.title("Projects")
store = app_support.store()
statuses = [app_support.status_of(store.open(name)) for name in store.names()]
if statuses:
    st.dataframe(status_table(statuses), hide_index=True, key="project_table")
else:
    st.info(f"No projects yet in {store.root}. Create the first one below.")

project = app_support.current_project()
if project is None:
    st.subheader("Try the demo")
    demo_section(store)
    st.subheader("New project")
    create_section(store)
else:
    status = app_support.status_of(project)
    st.subheader(f"Project {project.name}")
    step = status.next_step()
    if step is not None and step[1] != "projects":
        st.info(f"Next step: {step[0]}.")
        app_support.go_to(step[1], f"Go to {app_support.PAGE_TITLES[step[1]]}", key="projects_next")
    tab_settings, tab_import, tab_manage, tab_new = st.tabs(["Settings", "Import zip", "Rename / delete",
                                                             "New project"])
    with tab_settings:
        settings_section(project, status)
    with tab_import:
        import_section(project, status)
    with tab_manage:
        rename_delete_section(store, project)
    with tab_new:
        create_section(store)
        with st.expander("Or create the demo project"):
            demo_section(store)

st.subheader("Model access")
with st.expander("Check that this machine can load a model (reachable, cached, licence and token, speed)"):
    doctor_section((status.config if project is not None else None) or ProjectConfig())
