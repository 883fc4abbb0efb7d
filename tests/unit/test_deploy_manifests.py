"""deploy/k8s/ and deploy/docker-compose.yml: valid objects, wired to each other, and the
same processes with the same settings.

Core Kubernetes objects are validated by kubernetes-validate (strict: unknown fields are
errors). It has no schema for the operators' objects (Strimzi KafkaTopic, CloudNativePG
Cluster, Prometheus Operator ServiceMonitor): those are validated with jsonschema against
the OpenAPI schemas of the operators' published CRDs, vendored in deploy/k8s/schemas/ and
made strict the way the API server's strict field validation is.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate
import pytest
import yaml
from typer.testing import CliRunner

from ledger.config import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SCHEMAS = K8S / "schemas"
COMPOSE = ROOT / "deploy" / "docker-compose.yml"
KUBERNETES_VERSION = "1.33"
#: Operator objects -> their vendored schema files (group_kind_version.json).
OPERATOR_GROUPS = ("kafka.strimzi.io", "postgresql.cnpg.io", "monitoring.coreos.com")
#: The processes that run the ledger's own image: k8s workload -> compose service.
PROCESSES = {"ledger-api": "api", "ledger-consume": "consume", "ledger-work": "work",
             "ledger-project": "project", "ledger-init": "init"}
#: Settings whose values differ by design between the cluster and one machine.
PER_SITE = {"LEDGER_KAFKA_BOOTSTRAP", "LEDGER_KAFKA_REPLICATION_FACTOR",
            "LEDGER_SIGNING_KEY_FILE", "LEDGER_LOG_ORIGIN_PREFIX"}


def _objects() -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            objects.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return objects


def _by_kind(kind: str) -> list[dict[str, Any]]:
    return [o for o in _objects() if o["kind"] == kind]


def _named(kind: str, name: str) -> dict[str, Any]:
    [found] = [o for o in _by_kind(kind) if o["metadata"]["name"] == name]
    return found


def _pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    [container] = _pod_spec(workload)["containers"]
    return dict(container)


def _workloads() -> list[dict[str, Any]]:
    return _by_kind("Deployment") + _by_kind("Job")


def _strict(schema: Any) -> Any:
    """Unknown fields are errors, except where the CRD keeps unknown fields on purpose."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {k: _strict(v) for k, v in schema.items()}
    if ("properties" in strict and "additionalProperties" not in strict
            and not strict.get("x-kubernetes-preserve-unknown-fields")):
        strict["additionalProperties"] = False
    return strict


def _operator_schema(api_version: str, kind: str) -> dict[str, Any]:
    group, version = api_version.split("/")
    path = SCHEMAS / f"{group}_{kind.lower()}_{version}.json"
    schema: dict[str, Any] = _strict(json.loads(path.read_text()))
    return schema


def _config() -> dict[str, str]:
    data: dict[str, str] = _named("ConfigMap", "ledger-config")["data"]
    return data


def _environment(workload: dict[str, Any]) -> dict[str, str]:
    """The settings a workload's process gets: the ConfigMap, then its own values."""
    own = {e["name"]: e["value"] for e in _container(workload).get("env", []) if "value" in e}
    return {**_config(), **own}


def _compose_services() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())["services"]
    return services


def test_a_kustomization_lists_every_manifest_and_nothing_else() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(files)


@pytest.mark.parametrize("obj", [o for o in _objects()
                                 if o["apiVersion"].split("/")[0] not in OPERATOR_GROUPS],
                         ids=lambda o: f"{o['kind']}/{o['metadata']['name']}")
def test_a_kubernetes_object_is_valid_for_kubernetes_strictly(obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("obj", [o for o in _objects()
                                 if o["apiVersion"].split("/")[0] in OPERATOR_GROUPS],
                         ids=lambda o: f"{o['kind']}/{o['metadata']['name']}")
def test_an_operator_object_is_valid_against_its_crd_schema_strictly(
    obj: dict[str, Any]
) -> None:
    jsonschema.validate(obj, _operator_schema(obj["apiVersion"], obj["kind"]))


def test_the_kafka_topics_are_valid_for_strimzis_v1beta2_too() -> None:
    schema = _operator_schema("kafka.strimzi.io/v1beta2", "KafkaTopic")
    for topic in _by_kind("KafkaTopic"):
        jsonschema.validate({**topic, "apiVersion": "kafka.strimzi.io/v1beta2"}, schema)


def test_a_strict_crd_schema_refuses_a_misspelt_field() -> None:
    topic = {**_by_kind("KafkaTopic")[0]}
    topic["spec"] = {**topic["spec"], "partitons": 3}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(topic, _operator_schema(topic["apiVersion"], "KafkaTopic"))


def test_every_setting_given_to_a_process_is_a_ledger_setting() -> None:
    known = {f"LEDGER_{name.upper()}" for name in Settings.model_fields}
    given = set(_config())
    for workload in _workloads():
        given |= {e["name"] for e in _container(workload).get("env", [])}
    compose = yaml.safe_load(COMPOSE.read_text())["services"]
    for service in PROCESSES.values():
        given |= set(compose[service]["environment"])
    assert given - known == set()


def test_every_topic_the_ledger_uses_is_declared_with_the_configured_shape() -> None:
    config = _config()
    topics = {t["spec"]["topicName"]: t["spec"] for t in _by_kind("KafkaTopic")}
    replicas = int(config["LEDGER_KAFKA_REPLICATION_FACTOR"])
    for key in ("LEDGER_EVENTS_TOPIC", "LEDGER_ENTRIES_TOPIC"):
        assert topics[config[key]]["partitions"] == int(config["LEDGER_KAFKA_PARTITIONS"])
    assert topics[config["LEDGER_DLQ_TOPIC"]]["partitions"] == int(
        config["LEDGER_DLQ_PARTITIONS"])
    assert {"ledger.events", "ledger.events.dlq", "ledger.entries",
            "ledger.obligations"} <= set(topics)
    assert {spec["replicas"] for spec in topics.values()} == {replicas}
    for topic in _by_kind("KafkaTopic"):
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] in (
            config["LEDGER_KAFKA_BOOTSTRAP"])


def test_every_ledger_process_reads_the_config_and_the_database_secret_of_the_cluster() -> None:
    [cluster] = _by_kind("Cluster")
    for workload in _workloads():
        container = _container(workload)
        assert container["envFrom"] == [{"configMapRef": {"name": "ledger-config"}}]
        [url] = [e for e in container["env"] if e["name"] == "LEDGER_DATABASE_URL"]
        assert url["valueFrom"]["secretKeyRef"] == {
            "name": f"{cluster['metadata']['name']}-app", "key": "uri"}
    assert cluster["spec"]["bootstrap"]["initdb"]["database"] == "ledger"


def test_the_signing_key_is_a_secret_mounted_outside_ledger_home() -> None:
    config = _config()
    home, key_file = Path(config["LEDGER_HOME"]), Path(config["LEDGER_SIGNING_KEY_FILE"])
    assert home not in key_file.parents
    signers = [w for w in _workloads()
               if any(v.get("secret") for v in _pod_spec(w).get("volumes", []))]
    # The projector too: a view that quarantines a case records it in the tenant's ledger.
    assert {w["metadata"]["name"] for w in signers} == {"ledger-api", "ledger-work",
                                                        "ledger-project"}
    for workload in signers:
        [volume] = [v for v in _pod_spec(workload)["volumes"] if "secret" in v]
        [item] = volume["secret"]["items"]
        [mount] = [m for m in _container(workload)["volumeMounts"]
                   if m["name"] == volume["name"]]
        assert Path(mount["mountPath"]) / item["path"] == key_file
        assert mount["readOnly"] is True


def test_every_deployment_has_probes_resource_requests_and_a_read_only_root() -> None:
    for deployment in _by_kind("Deployment"):
        container = _container(deployment)
        ports = {p["name"] for p in container["ports"]}
        for probe in ("livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"]["port"] in ports
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_the_api_answers_its_probes_on_healthz_and_readyz() -> None:
    container = _container(_named("Deployment", "ledger-api"))
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert _named("Deployment", "ledger-work")["spec"]["replicas"] >= 2


def test_every_service_selects_pods_on_a_port_they_name() -> None:
    for service in _by_kind("Service"):
        selector = service["spec"]["selector"]
        selected = [d for d in _by_kind("Deployment")
                    if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert selected, service["metadata"]["name"]
        for deployment in selected:
            names = {p["name"] for p in _container(deployment)["ports"]}
            assert {p["targetPort"] for p in service["spec"]["ports"]} <= names


def test_the_service_monitor_scrapes_the_consumers_the_workers_and_the_projector() -> None:
    [monitor] = _by_kind("ServiceMonitor")
    [service] = [s for s in _by_kind("Service")
                 if monitor["spec"]["selector"]["matchLabels"].items()
                 <= s["metadata"].get("labels", {}).items()]
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= {
        p["name"] for p in service["spec"]["ports"]}
    selector = service["spec"]["selector"].items()
    scraped = {d["metadata"]["name"] for d in _by_kind("Deployment")
               if selector <= d["spec"]["template"]["metadata"]["labels"].items()}
    assert scraped == {"ledger-consume", "ledger-work", "ledger-project"}
    port = int(_config()["LEDGER_METRICS_PORT"])
    for name in scraped:
        assert {"name": "metrics", "containerPort": port} in _container(
            _named("Deployment", name))["ports"]


def _process(workload: str) -> dict[str, Any]:
    return _named("Job" if workload == "ledger-init" else "Deployment", workload)


def test_docker_compose_runs_the_same_processes_with_the_same_settings() -> None:
    services = _compose_services()
    assert {"postgres", "kafka", *PROCESSES.values()} <= set(services)
    for workload, service in PROCESSES.items():
        assert services[service]["command"] == _container(_process(workload))["command"]
        environment = services[service]["environment"]
        expected = _environment(_process(workload))
        assert set(environment) == set(expected) | {"LEDGER_DATABASE_URL"}
        for name, value in expected.items():
            if name not in PER_SITE:
                assert str(environment[name]) == value, (service, name)
    for service in ("work", "project"):
        assert services[service]["depends_on"]["init"]["condition"] == (
            "service_completed_successfully")


def test_every_process_runs_a_command_the_ledger_cli_has() -> None:
    from cli.main import app

    for workload in PROCESSES:
        program, *arguments = _container(_process(workload))["command"]
        assert program == "ledger"
        # --help parses the command and its options without running it.
        result = CliRunner().invoke(app, [*arguments, "--help"])
        assert result.exit_code == 0, (workload, result.output)


def test_one_projector_keeps_the_views_and_the_workers_leave_them_to_it() -> None:
    projector = _named("Deployment", "ledger-project")
    assert _container(projector)["command"] == ["ledger", "projections", "follow"]
    assert projector["spec"]["replicas"] == 1  # the views are global: one does all the work
    workers = _named("Deployment", "ledger-work")
    assert _environment(workers)["LEDGER_WORK_MODE"] == "kafka"
    assert _environment(workers)["LEDGER_WORK_PROJECT"] == "false"
    assert Settings.model_validate(
        {"work_project": _environment(workers)["LEDGER_WORK_PROJECT"]}).work_project is False
    services = _compose_services()
    assert str(services["work"]["environment"]["LEDGER_WORK_PROJECT"]) == "false"
    # Nothing else is told to project: `ledger serve` in kafka mode never does.
    for workload in PROCESSES:
        if workload != "ledger-work":
            assert _environment(_process(workload)).get("LEDGER_WORK_PROJECT") != "true"


def _compose_command() -> tuple[list[str], bool] | None:
    """`docker compose` (v2), else docker-compose 1.29 (Debian's), which predates the
    top-level `name` of the Compose Specification: the bool says to leave it out."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True,
                                 check=False).returncode == 0:
        return [docker, "compose"], False
    legacy = shutil.which("docker-compose")
    return ([legacy], True) if legacy else None


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    found = _compose_command()
    if found is None:
        pytest.skip("no docker compose (nor docker-compose) on this machine")
    command, without_name = found
    compose = COMPOSE
    if without_name:
        compose = tmp_path / "docker-compose.yml"
        compose.write_text("".join(line for line in COMPOSE.read_text().splitlines(True)
                                   if not line.startswith("name:")))
    key = tmp_path / "signing.key"
    key.write_text("not a key: compose only checks the file exists\n")
    env = {"PATH": "/usr/bin:/bin", "POSTGRES_PASSWORD": "check",
           "LEDGER_SIGNING_KEY_PATH": str(key)}
    result = subprocess.run([*command, "-f", str(compose), "config", "-q"], env=env,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
