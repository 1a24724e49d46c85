#!/usr/bin/env python3
"""rkafka's launcher for librdkafka's mock Kafka cluster (bundled in the confluent-kafka wheel).

The mock lives inside librdkafka; we drive its C API (rd_kafka_mock_*) through ctypes, so
a test gets a multi-broker Kafka-protocol cluster in ~0.3 s with fault injection that a real
broker cannot offer.

Usage:
  mock_cluster.py [--brokers N] [--topic NAME:PARTS[:RF]]... [--record] [--track]
                  [--advertise ID:HOST:PORT]... [--share-earliest] [--debug CSV]
                  [--stay-on-eof] [--librdkafka PATH]

Startup output on stdout (each line flushed):
  LIBRDKAFKA <version>
  BOOTSTRAP host:port,...
  BROKER <id> <port>          one line per broker
  READY

Then one command per stdin line, each answered by exactly one stdout line 'OK ...' or 'ERR ...'.
stdout carries nothing else, so a reader can pair commands with answers. Closing stdin stops
the cluster (so a test runner that dies leaves nothing behind) unless --stay-on-eof.

Commands (ERR names or numbers are accepted wherever an error code is expected):
  ping                                  -> OK pong
  topic NAME PARTS [RF]                 create a topic
  deltopic NAME                         delete a topic
  topic_error NAME ERR                  error for the topic in Metadata responses
  down ID | up ID                       broker down (drops connections, refuses new) / up; -1 = all
  rtt ID MS                             added response delay of a broker; -1 = all
  rack ID RACK                          rack a broker reports in Metadata
  leader TOPIC PART ID                  move a partition's leader (-1: leaderless)
  follower TOPIC PART ID                preferred read replica handed to fetchers (KIP-392)
  leader_response TOPIC PART ID EPOCH   push a leader/epoch for the next Metadata (KIP-951 hints)
  errors APIKEY ERR [ERR...]            the next requests of APIKEY (any broker) fail with ERRs
  broker_errors ID APIKEY ERR[:RTTMS]...  same, on one broker, each optionally delayed
  error_stack ID APIKEY                 -> OK <count of per-broker errors still queued>
  clear_errors APIKEY                   drop queued cluster-wide errors of APIKEY
  apiversion APIKEY MIN MAX             advertised version range (-1 -1 removes the API)
  advertise ID HOST PORT                host:port a broker is advertised as (TLS fronts, proxies)
  coordinator group|transaction KEY ID  pin the coordinator of a group / transactional id
  cgrp_session_ms N | cgrp_hb_ms N | rebalance_delay_ms N     KIP-848 / classic group timings
  share_max_delivery N | share_lock_ms N | share_session_ms N | share_hb_ms N
  share_earliest [0|1]                  share auto offset reset earliest (1, default) / latest (0)
  share_members GROUP                   -> OK <member ids...>
  share_assign_all GROUP TOPIC NPARTS   every member of GROUP gets all NPARTS partitions (the
                                        mock's own assignor gives a partition to one member only);
                                        members pick it up at their next heartbeat (~1-3 s)
  track_start | track_stop | track_clear    the mock's request tracking (on with --track)
  requests                              -> OK BROKER:APIKEY[:VERSION] ... in arrival order
                                        (VERSION only with --record, see below)

--record puts a small recording proxy in front of every broker (the brokers are advertised at
the proxy ports, which BOOTSTRAP/BROKER report); it logs broker, API key and API version of
every request, which librdkafka's own tracking does not expose. Closing or refusing behind the
proxy shows the client a connection that is accepted and then closed, not a refusal.
"""
import argparse
import ctypes as C
import glob
import os
import signal
import socket
import struct
import sys
import threading

ERROR_NAMES = {
    "UNKNOWN_SERVER_ERROR": -1, "NONE": 0, "OFFSET_OUT_OF_RANGE": 1, "CORRUPT_MESSAGE": 2,
    "UNKNOWN_TOPIC_OR_PARTITION": 3, "UNKNOWN_TOPIC_OR_PART": 3, "INVALID_FETCH_SIZE": 4,
    "LEADER_NOT_AVAILABLE": 5, "NOT_LEADER_OR_FOLLOWER": 6, "NOT_LEADER_FOR_PARTITION": 6,
    "REQUEST_TIMED_OUT": 7, "BROKER_NOT_AVAILABLE": 8, "REPLICA_NOT_AVAILABLE": 9,
    "MESSAGE_TOO_LARGE": 10, "NETWORK_EXCEPTION": 13, "COORDINATOR_LOAD_IN_PROGRESS": 14,
    "COORDINATOR_NOT_AVAILABLE": 15, "NOT_COORDINATOR": 16, "INVALID_TOPIC_EXCEPTION": 17,
    "RECORD_LIST_TOO_LARGE": 18, "NOT_ENOUGH_REPLICAS": 19, "NOT_ENOUGH_REPLICAS_AFTER_APPEND": 20,
    "INVALID_REQUIRED_ACKS": 21, "ILLEGAL_GENERATION": 22, "INCONSISTENT_GROUP_PROTOCOL": 23,
    "INVALID_GROUP_ID": 24, "UNKNOWN_MEMBER_ID": 25, "INVALID_SESSION_TIMEOUT": 26,
    "REBALANCE_IN_PROGRESS": 27, "INVALID_COMMIT_OFFSET_SIZE": 28,
    "TOPIC_AUTHORIZATION_FAILED": 29, "GROUP_AUTHORIZATION_FAILED": 30,
    "CLUSTER_AUTHORIZATION_FAILED": 31, "UNSUPPORTED_VERSION": 35, "NOT_CONTROLLER": 41,
    "OUT_OF_ORDER_SEQUENCE_NUMBER": 45, "DUPLICATE_SEQUENCE_NUMBER": 46,
    "INVALID_PRODUCER_EPOCH": 47, "INVALID_TXN_STATE": 48, "INVALID_PRODUCER_ID_MAPPING": 49,
    "TRANSACTIONAL_ID_AUTHORIZATION_FAILED": 53, "CONCURRENT_TRANSACTIONS": 51,
    "UNKNOWN_PRODUCER_ID": 59, "KAFKA_STORAGE_ERROR": 56, "FENCED_LEADER_EPOCH": 74,
    "UNKNOWN_LEADER_EPOCH": 75, "OFFSET_NOT_AVAILABLE": 78, "MEMBER_ID_REQUIRED": 79,
    "PREFERRED_LEADER_NOT_AVAILABLE": 80, "FENCED_INSTANCE_ID": 82,
    "THROTTLING_QUOTA_EXCEEDED": 89, "PRODUCER_FENCED": 90, "UNKNOWN_TOPIC_ID": 100,
    "FENCED_MEMBER_EPOCH": 110, "UNRELEASED_INSTANCE_ID": 111, "UNKNOWN_SUBSCRIPTION_ID": 117,
    "INVALID_RECORD_STATE": 121, "SHARE_SESSION_NOT_FOUND": 122,
    "INVALID_SHARE_SESSION_EPOCH": 123, "FENCED_STATE_EPOCH": 124,
    # librdkafka-internal: the mock drops the connection instead of answering.
    "_TRANSPORT": -195,
}


def error_code(text):
    try:
        return int(text)
    except ValueError:
        return ERROR_NAMES[text.upper()]


def find_librdkafka(explicit):
    """The librdkafka inside the confluent-kafka wheel: it is the one that has the mock."""
    if explicit:
        return explicit
    try:
        import confluent_kafka
    except ImportError:
        sys.exit("mock_cluster.py: confluent_kafka is not installed in this Python "
                 "(run tools/peers/install.sh, then use .venv/bin/python)")
    site = os.path.dirname(os.path.dirname(confluent_kafka.__file__))
    libs = sorted(glob.glob(os.path.join(site, "confluent_kafka.libs", "librdkafka-*.so*")))
    if not libs:
        sys.exit(f"mock_cluster.py: no librdkafka-*.so in {site}/confluent_kafka.libs")
    return libs[0]


def bind_api(path):
    lib = C.CDLL(path)
    vp, cp, i16, i32, i64, sz = C.c_void_p, C.c_char_p, C.c_int16, C.c_int32, C.c_int64, C.c_size_t
    err = C.c_int
    signatures = {
        "rd_kafka_version_str": (cp, []),
        "rd_kafka_err2name": (cp, [err]),
        "rd_kafka_conf_new": (vp, []),
        "rd_kafka_conf_set": (C.c_int, [vp, cp, cp, cp, sz]),
        "rd_kafka_new": (vp, [C.c_int, vp, cp, sz]),
        "rd_kafka_destroy": (None, [vp]),
        "rd_kafka_poll": (C.c_int, [vp, C.c_int]),
        "rd_kafka_topic_partition_list_new": (vp, [C.c_int]),
        "rd_kafka_topic_partition_list_add": (vp, [vp, cp, i32]),
        "rd_kafka_topic_partition_list_destroy": (None, [vp]),
        "rd_kafka_mock_cluster_new": (vp, [vp, C.c_int]),
        "rd_kafka_mock_cluster_destroy": (None, [vp]),
        "rd_kafka_mock_cluster_bootstraps": (cp, [vp]),
        "rd_kafka_mock_topic_create": (err, [vp, cp, C.c_int, C.c_int]),
        "rd_kafka_mock_topic_delete": (err, [vp, cp]),
        "rd_kafka_mock_topic_set_error": (None, [vp, cp, err]),
        "rd_kafka_mock_broker_set_down": (err, [vp, i32]),
        "rd_kafka_mock_broker_set_up": (err, [vp, i32]),
        "rd_kafka_mock_broker_set_rtt": (err, [vp, i32, C.c_int]),
        "rd_kafka_mock_broker_set_rack": (err, [vp, i32, cp]),
        "rd_kafka_mock_broker_set_host_port": (None, [vp, i32, cp, C.c_int]),
        "rd_kafka_mock_broker_error_stack_cnt": (err, [vp, i32, i16, C.POINTER(sz)]),
        "rd_kafka_mock_partition_set_leader": (err, [vp, cp, i32, i32]),
        "rd_kafka_mock_partition_set_follower": (err, [vp, cp, i32, i32]),
        "rd_kafka_mock_partition_push_leader_response": (err, [vp, cp, C.c_int, i32, i32]),
        "rd_kafka_mock_push_request_errors_array": (None, [vp, i16, sz, C.POINTER(err)]),
        "rd_kafka_mock_clear_request_errors": (None, [vp, i16]),
        "rd_kafka_mock_set_apiversion": (err, [vp, i16, i16, i16]),
        "rd_kafka_mock_coordinator_set": (err, [vp, cp, cp, i32]),
        "rd_kafka_mock_group_initial_rebalance_delay_ms": (None, [vp, i32]),
        "rd_kafka_mock_set_group_consumer_session_timeout_ms": (None, [vp, C.c_int]),
        "rd_kafka_mock_set_group_consumer_heartbeat_interval_ms": (None, [vp, C.c_int]),
        "rd_kafka_mock_sharegroup_set_session_timeout": (None, [vp, C.c_int]),
        "rd_kafka_mock_sharegroup_set_heartbeat_interval": (None, [vp, C.c_int]),
        "rd_kafka_mock_sharegroup_set_max_delivery_attempts": (None, [vp, C.c_int]),
        "rd_kafka_mock_sharegroup_set_record_lock_duration": (None, [vp, C.c_int]),
        "rd_kafka_mock_sharegroup_set_auto_offset_reset": (None, [vp, C.c_int]),
        "rd_kafka_mock_sharegroup_get_member_ids": (err, [vp, cp, C.POINTER(C.POINTER(cp)),
                                                          C.POINTER(sz)]),
        "rd_kafka_mock_sharegroup_target_assignment": (None, [vp, cp, C.POINTER(cp),
                                                              C.POINTER(vp), sz]),
        "rd_kafka_mock_start_request_tracking": (None, [vp]),
        "rd_kafka_mock_stop_request_tracking": (None, [vp]),
        "rd_kafka_mock_clear_requests": (None, [vp]),
        "rd_kafka_mock_get_requests": (C.POINTER(vp), [vp, C.POINTER(sz)]),
        "rd_kafka_mock_request_id": (i32, [vp]),
        "rd_kafka_mock_request_api_key": (i16, [vp]),
        "rd_kafka_mock_request_timestamp": (i64, [vp]),
        "rd_kafka_mock_request_destroy_array": (None, [C.POINTER(vp), sz]),
    }
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    # Variadic: (err, rtt_ms) pairs after the count, so no fixed argtypes; every argument is
    # wrapped in its C type at the call (see broker_errors).
    lib.rd_kafka_mock_broker_push_request_error_rtts.restype = err
    return lib


class RecordingProxy:
    """Forwards one broker's port and logs (broker id, api key, api version) of each request.

    A Kafka request frame is int32 size, then int16 api key, int16 api version, ... so the
    header is readable without knowing the API."""

    def __init__(self, broker_id, backend_port, log, lock):
        self.broker_id, self.backend_port, self.log, self.lock = broker_id, backend_port, log, lock
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            client, _ = self.listener.accept()
            try:
                backend = socket.create_connection(("127.0.0.1", self.backend_port), timeout=5)
                backend.settimeout(None)
            except OSError:
                client.close()  # the broker is down: the client sees an immediate close
                continue
            for s in (client, backend):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._requests, args=(client, backend), daemon=True).start()
            threading.Thread(target=self._pipe, args=(backend, client), daemon=True).start()

    def _requests(self, src, dst):
        buf = b""
        try:
            while True:
                chunk = src.recv(65536)
                if not chunk:
                    break
                buf += chunk
                # Log every complete frame header in the buffer, then forward the bytes as is.
                while len(buf) >= 8:
                    size, key, version = struct.unpack(">ihh", buf[:8])
                    if len(buf) < 4 + size:
                        break
                    with self.lock:
                        self.log.append((self.broker_id, key, version))
                    buf = buf[4 + size:]
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            self._close(src, dst)

    def _pipe(self, src, dst):
        try:
            while True:
                chunk = src.recv(65536)
                if not chunk:
                    break
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            self._close(src, dst)

    @staticmethod
    def _close(*socks):
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


class Cluster:
    def __init__(self, lib, mc, record_log, record_lock):
        self.lib, self.mc = lib, mc
        self.record_log, self.record_lock = record_log, record_lock

    def answer(self, err):
        return "OK" if err == 0 else "ERR " + self.lib.rd_kafka_err2name(err).decode()

    def handle(self, line):
        words = line.split()
        if not words:
            return None
        cmd, args = words[0], words[1:]
        method = getattr(self, "cmd_" + cmd, None)
        if method is None:
            return f"ERR unknown command {cmd!r}"
        return method(*args)

    # Each cmd_* takes the command's words as strings and returns the answer line.

    def cmd_ping(self):
        return "OK pong"

    def cmd_topic(self, name, parts, rf="1"):
        return self.answer(self.lib.rd_kafka_mock_topic_create(self.mc, name.encode(), int(parts), int(rf)))

    def cmd_deltopic(self, name):
        return self.answer(self.lib.rd_kafka_mock_topic_delete(self.mc, name.encode()))

    def cmd_topic_error(self, name, err):
        self.lib.rd_kafka_mock_topic_set_error(self.mc, name.encode(), error_code(err))
        return "OK"

    def cmd_down(self, broker):
        return self.answer(self.lib.rd_kafka_mock_broker_set_down(self.mc, int(broker)))

    def cmd_up(self, broker):
        return self.answer(self.lib.rd_kafka_mock_broker_set_up(self.mc, int(broker)))

    def cmd_rtt(self, broker, ms):
        return self.answer(self.lib.rd_kafka_mock_broker_set_rtt(self.mc, int(broker), int(ms)))

    def cmd_rack(self, broker, rack):
        return self.answer(self.lib.rd_kafka_mock_broker_set_rack(self.mc, int(broker), rack.encode()))

    def cmd_leader(self, topic, part, broker):
        return self.answer(self.lib.rd_kafka_mock_partition_set_leader(
            self.mc, topic.encode(), int(part), int(broker)))

    def cmd_follower(self, topic, part, broker):
        return self.answer(self.lib.rd_kafka_mock_partition_set_follower(
            self.mc, topic.encode(), int(part), int(broker)))

    def cmd_leader_response(self, topic, part, broker, epoch):
        return self.answer(self.lib.rd_kafka_mock_partition_push_leader_response(
            self.mc, topic.encode(), int(part), int(broker), int(epoch)))

    def cmd_errors(self, api_key, *errs):
        if not errs:
            return "ERR errors needs at least one error code"
        codes = [error_code(e) for e in errs]
        self.lib.rd_kafka_mock_push_request_errors_array(
            self.mc, int(api_key), len(codes), (C.c_int * len(codes))(*codes))
        return "OK"

    def cmd_broker_errors(self, broker, api_key, *entries):
        if not entries:
            return "ERR broker_errors needs at least one ERR[:RTTMS]"
        pairs = []
        for entry in entries:
            err, _, rtt = entry.partition(":")
            pairs += [C.c_int(error_code(err)), C.c_int(int(rtt or 0))]
        # int16 ApiKey is promoted to int in a variadic call.
        return self.answer(self.lib.rd_kafka_mock_broker_push_request_error_rtts(
            C.c_void_p(self.mc), C.c_int32(int(broker)), C.c_int(int(api_key)),
            C.c_size_t(len(entries)), *pairs))

    def cmd_error_stack(self, broker, api_key):
        count = C.c_size_t()
        err = self.lib.rd_kafka_mock_broker_error_stack_cnt(
            self.mc, int(broker), int(api_key), C.byref(count))
        return f"OK {count.value}" if err == 0 else self.answer(err)

    def cmd_clear_errors(self, api_key):
        self.lib.rd_kafka_mock_clear_request_errors(self.mc, int(api_key))
        return "OK"

    def cmd_apiversion(self, api_key, lo, hi):
        return self.answer(self.lib.rd_kafka_mock_set_apiversion(self.mc, int(api_key), int(lo), int(hi)))

    def cmd_advertise(self, broker, host, port):
        self.lib.rd_kafka_mock_broker_set_host_port(self.mc, int(broker), host.encode(), int(port))
        return "OK"

    def cmd_coordinator(self, key_type, key, broker):
        return self.answer(self.lib.rd_kafka_mock_coordinator_set(
            self.mc, key_type.encode(), key.encode(), int(broker)))

    def _setter(self, fn, value):
        fn(self.mc, int(value))
        return "OK"

    def cmd_cgrp_session_ms(self, n):
        return self._setter(self.lib.rd_kafka_mock_set_group_consumer_session_timeout_ms, n)

    def cmd_cgrp_hb_ms(self, n):
        return self._setter(self.lib.rd_kafka_mock_set_group_consumer_heartbeat_interval_ms, n)

    def cmd_rebalance_delay_ms(self, n):
        return self._setter(self.lib.rd_kafka_mock_group_initial_rebalance_delay_ms, n)

    def cmd_share_max_delivery(self, n):
        return self._setter(self.lib.rd_kafka_mock_sharegroup_set_max_delivery_attempts, n)

    def cmd_share_lock_ms(self, n):
        return self._setter(self.lib.rd_kafka_mock_sharegroup_set_record_lock_duration, n)

    def cmd_share_session_ms(self, n):
        return self._setter(self.lib.rd_kafka_mock_sharegroup_set_session_timeout, n)

    def cmd_share_hb_ms(self, n):
        return self._setter(self.lib.rd_kafka_mock_sharegroup_set_heartbeat_interval, n)

    def cmd_share_earliest(self, on="1"):
        return self._setter(self.lib.rd_kafka_mock_sharegroup_set_auto_offset_reset, on)

    def _share_members(self, group):
        ids = C.POINTER(C.c_char_p)()
        count = C.c_size_t()
        err = self.lib.rd_kafka_mock_sharegroup_get_member_ids(
            self.mc, group.encode(), C.byref(ids), C.byref(count))
        # The id strings are copies owned by us; leaking a few bytes per call is fine here.
        return err, [ids[i] for i in range(count.value)] if err == 0 else []

    def cmd_share_members(self, group):
        err, members = self._share_members(group)
        return ("OK " + " ".join(m.decode() for m in members)).rstrip() if err == 0 else self.answer(err)

    def cmd_share_assign_all(self, group, topic, nparts):
        err, members = self._share_members(group)
        if err:
            return self.answer(err)
        if not members:
            return f"ERR share group {group} has no members yet"
        lists = []
        for _ in members:
            plist = self.lib.rd_kafka_topic_partition_list_new(int(nparts))
            for part in range(int(nparts)):
                self.lib.rd_kafka_topic_partition_list_add(plist, topic.encode(), part)
            lists.append(plist)
        self.lib.rd_kafka_mock_sharegroup_target_assignment(
            self.mc, group.encode(), (C.c_char_p * len(members))(*members),
            (C.c_void_p * len(lists))(*lists), len(members))
        for plist in lists:
            self.lib.rd_kafka_topic_partition_list_destroy(plist)
        return f"OK {len(members)} members share {topic}[0..{int(nparts) - 1}]"

    def cmd_track_start(self):
        self.lib.rd_kafka_mock_start_request_tracking(self.mc)
        return "OK"

    def cmd_track_stop(self):
        self.lib.rd_kafka_mock_stop_request_tracking(self.mc)
        return "OK"

    def cmd_track_clear(self):
        self.lib.rd_kafka_mock_clear_requests(self.mc)
        if self.record_log is not None:
            with self.record_lock:
                self.record_log.clear()
        return "OK"

    def cmd_requests(self):
        if self.record_log is not None:
            with self.record_lock:
                seen = [f"{b}:{k}:{v}" for b, k, v in self.record_log]
            return " ".join(["OK"] + seen)
        count = C.c_size_t()
        reqs = self.lib.rd_kafka_mock_get_requests(self.mc, C.byref(count))
        seen = []
        for i in range(count.value):
            seen.append((self.lib.rd_kafka_mock_request_timestamp(reqs[i]),
                         self.lib.rd_kafka_mock_request_id(reqs[i]),
                         self.lib.rd_kafka_mock_request_api_key(reqs[i])))
        if reqs:
            self.lib.rd_kafka_mock_request_destroy_array(reqs, count.value)
        return " ".join(["OK"] + [f"{b}:{k}" for _, b, k in sorted(seen)])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--brokers", type=int, default=1)
    ap.add_argument("--topic", action="append", default=[], metavar="NAME:PARTS[:RF]")
    ap.add_argument("--advertise", action="append", default=[], metavar="ID:HOST:PORT")
    ap.add_argument("--record", action="store_true", help="recording proxy in front of each broker")
    ap.add_argument("--track", action="store_true", help="start the mock's request tracking")
    ap.add_argument("--share-earliest", action="store_true")
    ap.add_argument("--debug", default="", help="librdkafka debug contexts (logged to stderr)")
    ap.add_argument("--stay-on-eof", action="store_true", help="keep serving after stdin closes")
    ap.add_argument("--librdkafka", help="path of a librdkafka with the mock (default: the wheel's)")
    opts = ap.parse_args()
    if opts.brokers < 1:
        sys.exit("mock_cluster.py: --brokers must be at least 1")

    lib = bind_api(find_librdkafka(opts.librdkafka))
    errstr = C.create_string_buffer(512)
    conf = lib.rd_kafka_conf_new()
    # The mock needs an owning client handle; a producer that is never used does.
    settings = [("client.id", "rkafka-mock-owner")]
    # Its only log line would be a warning that it has no bootstrap.servers; --debug opens logging.
    settings += [("debug", opts.debug)] if opts.debug else [("log_level", "4")]
    for key, value in settings:
        if lib.rd_kafka_conf_set(conf, key.encode(), value.encode(), errstr, len(errstr)) != 0:
            sys.exit(f"mock_cluster.py: {key}: {errstr.value.decode()}")
    rk = lib.rd_kafka_new(0, conf, errstr, len(errstr))
    if not rk:
        sys.exit("mock_cluster.py: rd_kafka_new: " + errstr.value.decode())
    mc = lib.rd_kafka_mock_cluster_new(rk, opts.brokers)
    if not mc:
        sys.exit("mock_cluster.py: rd_kafka_mock_cluster_new failed")

    for spec in opts.topic:
        name, parts, rf = (spec.split(":") + ["1", "1"])[:3]
        err = lib.rd_kafka_mock_topic_create(mc, name.encode(), int(parts), int(rf))
        if err:
            sys.exit(f"mock_cluster.py: topic {spec}: {lib.rd_kafka_err2name(err).decode()}")
    if opts.share_earliest:
        lib.rd_kafka_mock_sharegroup_set_auto_offset_reset(mc, 1)
    if opts.track:
        lib.rd_kafka_mock_start_request_tracking(mc)

    # Broker ids are 1..N in bootstrap order.
    ports = [int(hp.rsplit(":", 1)[1]) for hp in lib.rd_kafka_mock_cluster_bootstraps(mc).decode().split(",")]
    record_log, record_lock = ([], threading.Lock()) if opts.record else (None, None)
    if opts.record:
        proxies = [RecordingProxy(i + 1, port, record_log, record_lock) for i, port in enumerate(ports)]
        ports = [p.port for p in proxies]
        for i, port in enumerate(ports):
            lib.rd_kafka_mock_broker_set_host_port(mc, i + 1, b"127.0.0.1", port)
    for spec in opts.advertise:
        broker, host, port = spec.split(":")
        lib.rd_kafka_mock_broker_set_host_port(mc, int(broker), host.encode(), int(port))

    print("LIBRDKAFKA", lib.rd_kafka_version_str().decode())
    print("BOOTSTRAP", ",".join(f"127.0.0.1:{p}" for p in ports))
    for i, port in enumerate(ports):
        print("BROKER", i + 1, port)
    print("READY", flush=True)

    cluster = Cluster(lib, mc, record_log, record_lock)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def serve_commands():
        for line in sys.stdin:
            try:
                reply = cluster.handle(line)
            except (TypeError, ValueError, KeyError) as e:  # bad arguments: say so, keep serving
                reply = f"ERR {type(e).__name__}: {e}"
            if reply is not None:
                print(reply.replace("\n", " "), flush=True)
        if not opts.stay_on_eof:
            stop.set()

    threading.Thread(target=serve_commands, daemon=True).start()
    while not stop.is_set():
        lib.rd_kafka_poll(rk, 100)  # serves the owning handle's log and events
    lib.rd_kafka_mock_cluster_destroy(mc)
    lib.rd_kafka_destroy(rk)


if __name__ == "__main__":
    main()
