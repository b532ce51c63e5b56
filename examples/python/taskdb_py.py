"""What both Python examples share: a redis-py client set up for TaskDB, and reading
TaskDB's records whichever protocol the client speaks."""
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def connect(url, protocol):
    """A client for `url` speaking RESP `protocol` (2 or 3).

    Automatic retries are off. redis-py re-sends a command whose connection dropped when
    retries are on (the default from redis-py 6.0, or with `retry_on_timeout=True`): a
    REQUEST_WORK re-sent after its reply was lost claims a second task while the first
    stays leased, unseen, until its lease runs out. The worker asks again itself, and
    gives back what it claimed but never saw (see `give_back_lost_claims`).
    """
    return redis.Redis.from_url(
        url,
        protocol=protocol,
        decode_responses=True,
        retry=Retry(NoBackoff(), 0),
        retry_on_error=[],
    )


def record(reply):
    """A TaskDB record as a dict: RESP3 replies one already; RESP2 a flat field/value list
    without the unset fields."""
    if reply is None or isinstance(reply, dict):
        return reply
    return dict(zip(reply[0::2], reply[1::2]))
