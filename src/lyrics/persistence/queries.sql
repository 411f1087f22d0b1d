-- Every statement of src/lyrics/persistence, rendered by test/persistence/queries-sql.spec.ts (npm run queries:sql).
-- <TASK_COLUMNS> stands for: id, owner, status, prompt, metadata, webhook_url AS "webhookUrl", idempotency_key AS "idempotencyKey", request_hash AS "requestHash", kie_task_id AS "kieTaskId", kie_account AS "kieAccount", callback_token_hash AS "callbackTokenHash", error_code AS "errorCode", error_message AS "errorMessage", attempts, result_source AS "resultSource", polls, next_attempt_at AS "nextAttemptAt", sent_at AS "sentAt", lease_until AS "leaseUntil", created_at AS "createdAt", submitted_at AS "submittedAt", completed_at AS "completedAt", updated_at AS "updatedAt"

-- lyrics.lock_owner_submissions
SELECT pg_advisory_xact_lock(hashtext('lyrics.submit'), hashtext($1));

-- lyrics.release_expired_idempotency_key
UPDATE lyrics_tasks SET idempotency_key = NULL, request_hash = NULL
WHERE owner = $1 AND idempotency_key = $2 AND created_at < now() - make_interval(hours => $3);

-- lyrics.insert_task
INSERT INTO lyrics_tasks (owner, status, prompt, metadata, idempotency_key, request_hash, webhook_url, next_attempt_at)
SELECT $1::text, 'queued', $2::text, $3::jsonb, $4::text, $5::text, $7::text, clock_timestamp()
WHERE (SELECT count(*) FROM lyrics_tasks WHERE owner = $1::text AND status IN ('queued', 'submitted')) < $6::int
ON CONFLICT (owner, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING <TASK_COLUMNS>;

-- lyrics.task_by_id
SELECT <TASK_COLUMNS> FROM lyrics_tasks WHERE id = $1 AND owner = $2;

-- lyrics.any_task_by_id
SELECT <TASK_COLUMNS> FROM lyrics_tasks WHERE id = $1;

-- lyrics.task_by_idempotency_key
SELECT <TASK_COLUMNS> FROM lyrics_tasks WHERE owner = $1 AND idempotency_key = $2;

-- unnamed
UPDATE lyrics_tasks SET idempotency_key = NULL, request_hash = NULL
WHERE id IN (SELECT id FROM lyrics_tasks
             WHERE idempotency_key IS NOT NULL AND created_at < now() - make_interval(hours => $1)
             ORDER BY created_at LIMIT $2);

-- lyrics.callback_target
SELECT id, kie_task_id AS "kieTaskId", kie_account AS "kieAccount", callback_token_hash AS "callbackTokenHash"
FROM lyrics_tasks WHERE id = $1;

-- lyrics.task_page
SELECT <TASK_COLUMNS>, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "cursorCreatedAt"
FROM lyrics_tasks WHERE owner = $2
ORDER BY created_at DESC, id DESC
LIMIT $1;

-- lyrics.task_page_status
SELECT <TASK_COLUMNS>, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "cursorCreatedAt"
FROM lyrics_tasks WHERE owner = $2 AND status = $3
ORDER BY created_at DESC, id DESC
LIMIT $1;

-- lyrics.task_page_after
SELECT <TASK_COLUMNS>, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "cursorCreatedAt"
FROM lyrics_tasks WHERE owner = $2 AND (created_at, id) < ($3::timestamptz, $4::uuid)
ORDER BY created_at DESC, id DESC
LIMIT $1;

-- lyrics.task_page_status_after
SELECT <TASK_COLUMNS>, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "cursorCreatedAt"
FROM lyrics_tasks WHERE owner = $2 AND status = $3 AND (created_at, id) < ($4::timestamptz, $5::uuid)
ORDER BY created_at DESC, id DESC
LIMIT $1;

-- lyrics.variants_of
SELECT task_id AS "taskId", position, title, text, status, error_message AS "errorMessage" FROM lyrics_variants WHERE task_id = ANY($1::uuid[]) ORDER BY task_id, position;

-- lyrics.transition_create_accepted
WITH changed AS (UPDATE lyrics_tasks SET status = 'submitted', lease_until = NULL, updated_at = clock_timestamp(), kie_task_id = $2, submitted_at = clock_timestamp(), next_attempt_at = clock_timestamp() + make_interval(secs => $3::double precision / 1000) WHERE id = $1 AND ((status = 'queued')) RETURNING *)
SELECT <TASK_COLUMNS>, NULL AS notified FROM changed;

-- lyrics.transition_create_deferred
WITH changed AS (UPDATE lyrics_tasks SET status = 'queued', lease_until = NULL, updated_at = clock_timestamp(), next_attempt_at = clock_timestamp() + make_interval(secs => $2::double precision / 1000) WHERE id = $1 AND ((status = 'queued')) RETURNING *)
SELECT <TASK_COLUMNS>, NULL AS notified FROM changed;

-- lyrics.transition_create_failed
WITH changed AS (UPDATE lyrics_tasks SET status = 'failed', lease_until = NULL, updated_at = clock_timestamp(), completed_at = clock_timestamp(), next_attempt_at = NULL, error_code = $2, error_message = $3 WHERE id = $1 AND ((status = 'queued')) RETURNING *),
event AS (INSERT INTO lyrics_events (tx_id, owner, task_id, type, data)
      SELECT pg_current_xact_id()::text::bigint, changed.owner, changed.id, 'lyrics.' || changed.status,
             jsonb_build_object(
               'id', changed.id, 'status', changed.status, 'prompt', changed.prompt, 'metadata', changed.metadata,
               'kieTaskId', changed.kie_task_id, 'variants', '[]'::jsonb,
               'error', CASE WHEN changed.error_code IS NULL THEN NULL
                             ELSE jsonb_build_object('code', changed.error_code, 'message', COALESCE(changed.error_message, '')) END,
               'createdAt', to_char(changed.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'submittedAt', to_char(changed.submitted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
               'webhookUrl', changed.webhook_url,
               'completedAt', to_char(changed.completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'updatedAt', to_char(changed.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
      FROM changed
      RETURNING seq, task_id, owner),
deliveries AS (INSERT INTO lyrics_deliveries (event_seq, task_id, owner, consumer, url)
      SELECT event.seq, event.task_id, event.owner, 'host', NULL FROM event WHERE $4::boolean
      UNION ALL
      SELECT event.seq, event.task_id, event.owner, 'webhook', changed.webhook_url FROM event, changed
      WHERE changed.webhook_url IS NOT NULL)
     SELECT <TASK_COLUMNS>, pg_notify('lyrics_task_final', changed.id::text) AS notified FROM changed;

-- lyrics.transition_create_orphaned
WITH changed AS (UPDATE lyrics_tasks SET status = 'failed', lease_until = NULL, updated_at = clock_timestamp(), completed_at = clock_timestamp(), next_attempt_at = NULL, error_code = $2, error_message = $3 WHERE id = $1 AND ((status = 'queued' AND lease_until < clock_timestamp() AND sent_at IS NOT NULL)) RETURNING *),
event AS (INSERT INTO lyrics_events (tx_id, owner, task_id, type, data)
      SELECT pg_current_xact_id()::text::bigint, changed.owner, changed.id, 'lyrics.' || changed.status,
             jsonb_build_object(
               'id', changed.id, 'status', changed.status, 'prompt', changed.prompt, 'metadata', changed.metadata,
               'kieTaskId', changed.kie_task_id, 'variants', '[]'::jsonb,
               'error', CASE WHEN changed.error_code IS NULL THEN NULL
                             ELSE jsonb_build_object('code', changed.error_code, 'message', COALESCE(changed.error_message, '')) END,
               'createdAt', to_char(changed.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'submittedAt', to_char(changed.submitted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
               'webhookUrl', changed.webhook_url,
               'completedAt', to_char(changed.completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'updatedAt', to_char(changed.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
      FROM changed
      RETURNING seq, task_id, owner),
deliveries AS (INSERT INTO lyrics_deliveries (event_seq, task_id, owner, consumer, url)
      SELECT event.seq, event.task_id, event.owner, 'host', NULL FROM event WHERE $4::boolean
      UNION ALL
      SELECT event.seq, event.task_id, event.owner, 'webhook', changed.webhook_url FROM event, changed
      WHERE changed.webhook_url IS NOT NULL)
     SELECT <TASK_COLUMNS>, pg_notify('lyrics_task_final', changed.id::text) AS notified FROM changed;

-- lyrics.transition_create_released
WITH changed AS (UPDATE lyrics_tasks SET status = 'queued', lease_until = NULL, updated_at = clock_timestamp(), next_attempt_at = clock_timestamp() + make_interval(secs => $2::double precision / 1000) WHERE id = $1 AND ((status = 'queued' AND lease_until < clock_timestamp() AND sent_at IS NULL)) RETURNING *)
SELECT <TASK_COLUMNS>, NULL AS notified FROM changed;

-- lyrics.transition_queue_expired
WITH changed AS (UPDATE lyrics_tasks SET status = 'failed', lease_until = NULL, updated_at = clock_timestamp(), completed_at = clock_timestamp(), next_attempt_at = NULL, error_code = $2, error_message = $3 WHERE id = $1 AND ((status = 'queued' AND lease_until IS NULL) OR (status = 'queued' AND lease_until < clock_timestamp() AND sent_at IS NULL)) AND created_at <= clock_timestamp() - make_interval(secs => $4::double precision / 1000) RETURNING *),
event AS (INSERT INTO lyrics_events (tx_id, owner, task_id, type, data)
      SELECT pg_current_xact_id()::text::bigint, changed.owner, changed.id, 'lyrics.' || changed.status,
             jsonb_build_object(
               'id', changed.id, 'status', changed.status, 'prompt', changed.prompt, 'metadata', changed.metadata,
               'kieTaskId', changed.kie_task_id, 'variants', '[]'::jsonb,
               'error', CASE WHEN changed.error_code IS NULL THEN NULL
                             ELSE jsonb_build_object('code', changed.error_code, 'message', COALESCE(changed.error_message, '')) END,
               'createdAt', to_char(changed.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'submittedAt', to_char(changed.submitted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
               'webhookUrl', changed.webhook_url,
               'completedAt', to_char(changed.completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'updatedAt', to_char(changed.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
      FROM changed
      RETURNING seq, task_id, owner),
deliveries AS (INSERT INTO lyrics_deliveries (event_seq, task_id, owner, consumer, url)
      SELECT event.seq, event.task_id, event.owner, 'host', NULL FROM event WHERE $5::boolean
      UNION ALL
      SELECT event.seq, event.task_id, event.owner, 'webhook', changed.webhook_url FROM event, changed
      WHERE changed.webhook_url IS NOT NULL)
     SELECT <TASK_COLUMNS>, pg_notify('lyrics_task_final', changed.id::text) AS notified FROM changed;

-- lyrics.transition_poll_deferred
WITH changed AS (UPDATE lyrics_tasks SET status = 'submitted', lease_until = NULL, updated_at = clock_timestamp(), next_attempt_at = LEAST(clock_timestamp() + make_interval(secs => $2::double precision / 1000), submitted_at + make_interval(secs => $3::double precision / 1000)) WHERE id = $1 AND ((status = 'submitted')) RETURNING *)
SELECT <TASK_COLUMNS>, NULL AS notified FROM changed;

-- lyrics.transition_check_woken
WITH changed AS (UPDATE lyrics_tasks SET status = 'submitted', lease_until = NULL, updated_at = clock_timestamp(), next_attempt_at = clock_timestamp() + make_interval(secs => $2::double precision / 1000) WHERE id = $1 AND ((status = 'submitted')) RETURNING *)
SELECT <TASK_COLUMNS>, NULL AS notified FROM changed;

-- lyrics.transition_timed_out
WITH changed AS (UPDATE lyrics_tasks SET status = 'failed', lease_until = NULL, updated_at = clock_timestamp(), completed_at = clock_timestamp(), next_attempt_at = NULL, error_code = $2, error_message = $3 WHERE id = $1 AND ((status = 'submitted')) AND submitted_at <= clock_timestamp() - make_interval(secs => $4::double precision / 1000) RETURNING *),
event AS (INSERT INTO lyrics_events (tx_id, owner, task_id, type, data)
      SELECT pg_current_xact_id()::text::bigint, changed.owner, changed.id, 'lyrics.' || changed.status,
             jsonb_build_object(
               'id', changed.id, 'status', changed.status, 'prompt', changed.prompt, 'metadata', changed.metadata,
               'kieTaskId', changed.kie_task_id, 'variants', '[]'::jsonb,
               'error', CASE WHEN changed.error_code IS NULL THEN NULL
                             ELSE jsonb_build_object('code', changed.error_code, 'message', COALESCE(changed.error_message, '')) END,
               'createdAt', to_char(changed.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'submittedAt', to_char(changed.submitted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
               'webhookUrl', changed.webhook_url,
               'completedAt', to_char(changed.completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'updatedAt', to_char(changed.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
      FROM changed
      RETURNING seq, task_id, owner),
deliveries AS (INSERT INTO lyrics_deliveries (event_seq, task_id, owner, consumer, url)
      SELECT event.seq, event.task_id, event.owner, 'host', NULL FROM event WHERE $5::boolean
      UNION ALL
      SELECT event.seq, event.task_id, event.owner, 'webhook', changed.webhook_url FROM event, changed
      WHERE changed.webhook_url IS NOT NULL)
     SELECT <TASK_COLUMNS>, pg_notify('lyrics_task_final', changed.id::text) AS notified FROM changed;

-- lyrics.transition_result_succeeded
WITH changed AS (UPDATE lyrics_tasks SET status = 'succeeded', lease_until = NULL, updated_at = clock_timestamp(), completed_at = clock_timestamp(), next_attempt_at = NULL, error_code = NULL, error_message = NULL, result_source = $2, kie_task_id = COALESCE(kie_task_id, $3), submitted_at = COALESCE(submitted_at, clock_timestamp()) WHERE id = $1 AND ((status = 'queued') OR (status = 'submitted') OR (status = 'failed' AND error_code = 'timed_out') OR (status = 'failed' AND error_code = 'submit_outcome_unknown')) RETURNING *),
given_variants AS (
      SELECT * FROM unnest($4::text[], $5::text[],
                           $6::text[], $7::text[])
           WITH ORDINALITY AS v(title, text, status, error_message, position)),
variants AS (
      INSERT INTO lyrics_variants (task_id, position, title, text, status, error_message)
      SELECT changed.id, v.position - 1, v.title, v.text, v.status, v.error_message FROM changed, given_variants AS v),
event AS (INSERT INTO lyrics_events (tx_id, owner, task_id, type, data)
      SELECT pg_current_xact_id()::text::bigint, changed.owner, changed.id, 'lyrics.' || changed.status,
             jsonb_build_object(
               'id', changed.id, 'status', changed.status, 'prompt', changed.prompt, 'metadata', changed.metadata,
               'kieTaskId', changed.kie_task_id, 'variants', (SELECT COALESCE(jsonb_agg(jsonb_build_object('title', v.title, 'text', v.text, 'status', v.status, 'errorMessage', v.error_message)
                                  ORDER BY v.position), '[]'::jsonb) FROM given_variants AS v),
               'error', CASE WHEN changed.error_code IS NULL THEN NULL
                             ELSE jsonb_build_object('code', changed.error_code, 'message', COALESCE(changed.error_message, '')) END,
               'createdAt', to_char(changed.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'submittedAt', to_char(changed.submitted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
               'webhookUrl', changed.webhook_url,
               'completedAt', to_char(changed.completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'updatedAt', to_char(changed.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
      FROM changed
      RETURNING seq, task_id, owner),
deliveries AS (INSERT INTO lyrics_deliveries (event_seq, task_id, owner, consumer, url)
      SELECT event.seq, event.task_id, event.owner, 'host', NULL FROM event WHERE $8::boolean
      UNION ALL
      SELECT event.seq, event.task_id, event.owner, 'webhook', changed.webhook_url FROM event, changed
      WHERE changed.webhook_url IS NOT NULL)
     SELECT <TASK_COLUMNS>, pg_notify('lyrics_task_final', changed.id::text) AS notified FROM changed;

-- lyrics.transition_result_succeeded_with_receipt
WITH changed AS (UPDATE lyrics_tasks SET status = 'succeeded', lease_until = NULL, updated_at = clock_timestamp(), completed_at = clock_timestamp(), next_attempt_at = NULL, error_code = NULL, error_message = NULL, result_source = $2, kie_task_id = COALESCE(kie_task_id, $3), submitted_at = COALESCE(submitted_at, clock_timestamp()) WHERE id = $1 AND ((status = 'queued') OR (status = 'submitted') OR (status = 'failed' AND error_code = 'timed_out') OR (status = 'failed' AND error_code = 'submit_outcome_unknown')) RETURNING *),
given_variants AS (
      SELECT * FROM unnest($4::text[], $5::text[],
                           $6::text[], $7::text[])
           WITH ORDINALITY AS v(title, text, status, error_message, position)),
variants AS (
      INSERT INTO lyrics_variants (task_id, position, title, text, status, error_message)
      SELECT changed.id, v.position - 1, v.title, v.text, v.status, v.error_message FROM changed, given_variants AS v),
event AS (INSERT INTO lyrics_events (tx_id, owner, task_id, type, data)
      SELECT pg_current_xact_id()::text::bigint, changed.owner, changed.id, 'lyrics.' || changed.status,
             jsonb_build_object(
               'id', changed.id, 'status', changed.status, 'prompt', changed.prompt, 'metadata', changed.metadata,
               'kieTaskId', changed.kie_task_id, 'variants', (SELECT COALESCE(jsonb_agg(jsonb_build_object('title', v.title, 'text', v.text, 'status', v.status, 'errorMessage', v.error_message)
                                  ORDER BY v.position), '[]'::jsonb) FROM given_variants AS v),
               'error', CASE WHEN changed.error_code IS NULL THEN NULL
                             ELSE jsonb_build_object('code', changed.error_code, 'message', COALESCE(changed.error_message, '')) END,
               'createdAt', to_char(changed.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'submittedAt', to_char(changed.submitted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
               'webhookUrl', changed.webhook_url,
               'completedAt', to_char(changed.completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'updatedAt', to_char(changed.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
      FROM changed
      RETURNING seq, task_id, owner),
deliveries AS (INSERT INTO lyrics_deliveries (event_seq, task_id, owner, consumer, url)
      SELECT event.seq, event.task_id, event.owner, 'host', NULL FROM event WHERE $8::boolean
      UNION ALL
      SELECT event.seq, event.task_id, event.owner, 'webhook', changed.webhook_url FROM event, changed
      WHERE changed.webhook_url IS NOT NULL),
receipt AS (
      INSERT INTO lyrics_callback_receipts (task_id, kie_task_id, outcome, remote_address, body, body_truncated)
      SELECT changed.id, $9, 'applied', $10,
             $11, $12
      FROM changed
      WHERE (SELECT count(*) FROM lyrics_callback_receipts WHERE task_id = $1) < $13)
     SELECT <TASK_COLUMNS>, pg_notify('lyrics_task_final', changed.id::text) AS notified FROM changed;

-- lyrics.transition_result_failed
WITH changed AS (UPDATE lyrics_tasks SET status = 'failed', lease_until = NULL, updated_at = clock_timestamp(), completed_at = clock_timestamp(), next_attempt_at = NULL, error_code = $2, error_message = $3, result_source = $4, kie_task_id = COALESCE(kie_task_id, $5), submitted_at = COALESCE(submitted_at, clock_timestamp()) WHERE id = $1 AND ((status = 'queued') OR (status = 'submitted') OR (status = 'failed' AND error_code = 'timed_out') OR (status = 'failed' AND error_code = 'submit_outcome_unknown')) RETURNING *),
event AS (INSERT INTO lyrics_events (tx_id, owner, task_id, type, data)
      SELECT pg_current_xact_id()::text::bigint, changed.owner, changed.id, 'lyrics.' || changed.status,
             jsonb_build_object(
               'id', changed.id, 'status', changed.status, 'prompt', changed.prompt, 'metadata', changed.metadata,
               'kieTaskId', changed.kie_task_id, 'variants', '[]'::jsonb,
               'error', CASE WHEN changed.error_code IS NULL THEN NULL
                             ELSE jsonb_build_object('code', changed.error_code, 'message', COALESCE(changed.error_message, '')) END,
               'createdAt', to_char(changed.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'submittedAt', to_char(changed.submitted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
               'webhookUrl', changed.webhook_url,
               'completedAt', to_char(changed.completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'updatedAt', to_char(changed.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
      FROM changed
      RETURNING seq, task_id, owner),
deliveries AS (INSERT INTO lyrics_deliveries (event_seq, task_id, owner, consumer, url)
      SELECT event.seq, event.task_id, event.owner, 'host', NULL FROM event WHERE $6::boolean
      UNION ALL
      SELECT event.seq, event.task_id, event.owner, 'webhook', changed.webhook_url FROM event, changed
      WHERE changed.webhook_url IS NOT NULL)
     SELECT <TASK_COLUMNS>, pg_notify('lyrics_task_final', changed.id::text) AS notified FROM changed;

-- lyrics.transition_result_failed_with_receipt
WITH changed AS (UPDATE lyrics_tasks SET status = 'failed', lease_until = NULL, updated_at = clock_timestamp(), completed_at = clock_timestamp(), next_attempt_at = NULL, error_code = $2, error_message = $3, result_source = $4, kie_task_id = COALESCE(kie_task_id, $5), submitted_at = COALESCE(submitted_at, clock_timestamp()) WHERE id = $1 AND ((status = 'queued') OR (status = 'submitted') OR (status = 'failed' AND error_code = 'timed_out') OR (status = 'failed' AND error_code = 'submit_outcome_unknown')) RETURNING *),
event AS (INSERT INTO lyrics_events (tx_id, owner, task_id, type, data)
      SELECT pg_current_xact_id()::text::bigint, changed.owner, changed.id, 'lyrics.' || changed.status,
             jsonb_build_object(
               'id', changed.id, 'status', changed.status, 'prompt', changed.prompt, 'metadata', changed.metadata,
               'kieTaskId', changed.kie_task_id, 'variants', '[]'::jsonb,
               'error', CASE WHEN changed.error_code IS NULL THEN NULL
                             ELSE jsonb_build_object('code', changed.error_code, 'message', COALESCE(changed.error_message, '')) END,
               'createdAt', to_char(changed.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'submittedAt', to_char(changed.submitted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
               'webhookUrl', changed.webhook_url,
               'completedAt', to_char(changed.completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'updatedAt', to_char(changed.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
      FROM changed
      RETURNING seq, task_id, owner),
deliveries AS (INSERT INTO lyrics_deliveries (event_seq, task_id, owner, consumer, url)
      SELECT event.seq, event.task_id, event.owner, 'host', NULL FROM event WHERE $6::boolean
      UNION ALL
      SELECT event.seq, event.task_id, event.owner, 'webhook', changed.webhook_url FROM event, changed
      WHERE changed.webhook_url IS NOT NULL),
receipt AS (
      INSERT INTO lyrics_callback_receipts (task_id, kie_task_id, outcome, remote_address, body, body_truncated)
      SELECT changed.id, $7, 'applied', $8,
             $9, $10
      FROM changed
      WHERE (SELECT count(*) FROM lyrics_callback_receipts WHERE task_id = $1) < $11)
     SELECT <TASK_COLUMNS>, pg_notify('lyrics_task_final', changed.id::text) AS notified FROM changed;

-- lyrics.transition_cancelled
WITH changed AS (UPDATE lyrics_tasks SET status = 'cancelled', lease_until = NULL, updated_at = clock_timestamp(), completed_at = clock_timestamp(), next_attempt_at = NULL WHERE id = $1 AND ((status = 'queued' AND lease_until IS NULL)) RETURNING *),
event AS (INSERT INTO lyrics_events (tx_id, owner, task_id, type, data)
      SELECT pg_current_xact_id()::text::bigint, changed.owner, changed.id, 'lyrics.' || changed.status,
             jsonb_build_object(
               'id', changed.id, 'status', changed.status, 'prompt', changed.prompt, 'metadata', changed.metadata,
               'kieTaskId', changed.kie_task_id, 'variants', '[]'::jsonb,
               'error', CASE WHEN changed.error_code IS NULL THEN NULL
                             ELSE jsonb_build_object('code', changed.error_code, 'message', COALESCE(changed.error_message, '')) END,
               'createdAt', to_char(changed.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'submittedAt', to_char(changed.submitted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
               'webhookUrl', changed.webhook_url,
               'completedAt', to_char(changed.completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'updatedAt', to_char(changed.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
      FROM changed
      RETURNING seq, task_id, owner),
deliveries AS (INSERT INTO lyrics_deliveries (event_seq, task_id, owner, consumer, url)
      SELECT event.seq, event.task_id, event.owner, 'host', NULL FROM event WHERE $2::boolean
      UNION ALL
      SELECT event.seq, event.task_id, event.owner, 'webhook', changed.webhook_url FROM event, changed
      WHERE changed.webhook_url IS NOT NULL)
     SELECT <TASK_COLUMNS>, pg_notify('lyrics_task_final', changed.id::text) AS notified FROM changed;

-- lyrics.transition_result_unstorable
WITH changed AS (UPDATE lyrics_tasks SET status = 'failed', lease_until = NULL, updated_at = clock_timestamp(), completed_at = clock_timestamp(), next_attempt_at = NULL, error_code = $2, error_message = $3, result_source = $4, submitted_at = COALESCE(submitted_at, clock_timestamp()) WHERE id = $1 AND ((status = 'queued') OR (status = 'submitted') OR (status = 'failed' AND error_code = 'timed_out') OR (status = 'failed' AND error_code = 'submit_outcome_unknown')) RETURNING *),
event AS (INSERT INTO lyrics_events (tx_id, owner, task_id, type, data)
      SELECT pg_current_xact_id()::text::bigint, changed.owner, changed.id, 'lyrics.' || changed.status,
             jsonb_build_object(
               'id', changed.id, 'status', changed.status, 'prompt', changed.prompt, 'metadata', changed.metadata,
               'kieTaskId', changed.kie_task_id, 'variants', '[]'::jsonb,
               'error', CASE WHEN changed.error_code IS NULL THEN NULL
                             ELSE jsonb_build_object('code', changed.error_code, 'message', COALESCE(changed.error_message, '')) END,
               'createdAt', to_char(changed.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'submittedAt', to_char(changed.submitted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
               'webhookUrl', changed.webhook_url,
               'completedAt', to_char(changed.completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'updatedAt', to_char(changed.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
      FROM changed
      RETURNING seq, task_id, owner),
deliveries AS (INSERT INTO lyrics_deliveries (event_seq, task_id, owner, consumer, url)
      SELECT event.seq, event.task_id, event.owner, 'host', NULL FROM event WHERE $5::boolean
      UNION ALL
      SELECT event.seq, event.task_id, event.owner, 'webhook', changed.webhook_url FROM event, changed
      WHERE changed.webhook_url IS NOT NULL)
     SELECT <TASK_COLUMNS>, pg_notify('lyrics_task_final', changed.id::text) AS notified FROM changed;

-- lyrics.lock_create_claims
SELECT pg_advisory_xact_lock(hashtext('lyrics.create-claim'));

-- lyrics.lock_fair_due_creates
WITH RECURSIVE owners AS (
  SELECT (SELECT min(task.owner) FROM lyrics_tasks AS task WHERE task.status = 'queued' AND task.lease_until IS NULL AND task.next_attempt_at <= now()) AS owner
  UNION ALL
  SELECT (SELECT min(task.owner) FROM lyrics_tasks AS task WHERE task.status = 'queued' AND task.lease_until IS NULL AND task.next_attempt_at <= now() AND task.owner > owners.owner)
  FROM owners WHERE owners.owner IS NOT NULL
),
candidates AS (
  SELECT candidate.*, turn.served_at
  FROM owners
  LEFT JOIN lyrics_owner_turns AS turn ON turn.owner = owners.owner
  CROSS JOIN LATERAL (
    SELECT id, owner, prompt, attempts + 1 AS attempts, row_number() OVER (ORDER BY next_attempt_at, id) AS turn_rank
    FROM (SELECT task.id, task.owner, task.prompt, task.attempts, task.next_attempt_at FROM lyrics_tasks AS task
          WHERE task.owner = owners.owner AND task.status = 'queued' AND task.lease_until IS NULL AND task.next_attempt_at <= now()
          ORDER BY task.next_attempt_at, task.id LIMIT $1
          FOR UPDATE SKIP LOCKED) AS locked
  ) AS candidate
  WHERE owners.owner IS NOT NULL
),
picked AS (
  SELECT id, owner, prompt, attempts, turn_rank, served_at FROM candidates
  ORDER BY turn_rank, served_at NULLS FIRST, owner LIMIT $1
),
served AS (
  INSERT INTO lyrics_owner_turns (owner, served_at)
  SELECT owner, clock_timestamp() FROM (SELECT DISTINCT owner FROM picked) AS served_owners
  ON CONFLICT (owner) DO UPDATE SET served_at = EXCLUDED.served_at
)
SELECT id, prompt, attempts FROM picked ORDER BY turn_rank, served_at NULLS FIRST, owner;

-- lyrics.lease_creates
UPDATE lyrics_tasks AS task
SET lease_until = clock_timestamp() + make_interval(secs => $1::double precision / 1000), sent_at = NULL,
    attempts = task.attempts + 1, callback_token_hash = claimed.hash, kie_account = claimed.account,
    updated_at = clock_timestamp()
FROM unnest($2::uuid[], $3::text[], $4::text[]) AS claimed(id, hash, account)
WHERE task.id = claimed.id;

-- lyrics.mark_creates_sent
UPDATE lyrics_tasks AS task SET sent_at = clock_timestamp()
FROM unnest($1::uuid[], $2::text[]) AS claim(id, hash)
WHERE task.id = claim.id AND task.callback_token_hash = claim.hash
  AND task.status = 'queued' AND task.lease_until > clock_timestamp()
RETURNING task.id;

-- lyrics.orphaned_creates
SELECT id, sent_at IS NOT NULL AS sent FROM lyrics_tasks WHERE lease_until < now() AND status = 'queued' LIMIT $1;

-- lyrics.expired_queued_tasks
SELECT id FROM lyrics_tasks
WHERE status = 'queued' AND created_at <= now() - make_interval(secs => $1::double precision / 1000)
  AND (lease_until IS NULL OR (lease_until < now() AND sent_at IS NULL))
ORDER BY created_at LIMIT $2;

-- lyrics.lock_due_checks
SELECT id, kie_task_id AS "kieTaskId", kie_account AS "kieAccount", polls + 1 AS polls,
       (EXTRACT(EPOCH FROM (submitted_at + make_interval(secs => $2::double precision / 1000) - clock_timestamp())) * 1000)::float8 AS "msLeft"
FROM lyrics_tasks
WHERE status = 'submitted' AND next_attempt_at <= now()
ORDER BY next_attempt_at LIMIT $1
FOR UPDATE SKIP LOCKED;

-- lyrics.lease_checks
UPDATE lyrics_tasks SET lease_until = clock_timestamp() + make_interval(secs => $1::double precision / 1000),
       next_attempt_at = clock_timestamp() + make_interval(secs => $1::double precision / 1000),
       polls = polls + 1, updated_at = clock_timestamp()
WHERE id = ANY($2::uuid[]);

-- unnamed
UPDATE lyrics_tasks SET lease_until = NULL, next_attempt_at = now() WHERE id = ANY($1::uuid[]) AND status = 'submitted';

-- lyrics.ms_until_due_create
SELECT (EXTRACT(EPOCH FROM (MIN(next_attempt_at) - clock_timestamp())) * 1000)::float8 AS "waitMs"
FROM lyrics_tasks WHERE status = 'queued' AND lease_until IS NULL;

-- lyrics.ms_until_due_check
SELECT (EXTRACT(EPOCH FROM (MIN(next_attempt_at) - clock_timestamp())) * 1000)::float8 AS "waitMs"
FROM lyrics_tasks WHERE status = 'submitted';

-- unnamed
SELECT status, count(*)::int AS n FROM lyrics_tasks WHERE status IN ('queued', 'submitted') GROUP BY status;

-- unnamed
SELECT status, count(*)::int AS n FROM lyrics_tasks WHERE status IN ('succeeded', 'failed', 'cancelled') GROUP BY status;

-- unnamed
SELECT CASE status WHEN 'queued' THEN 'create' ELSE 'check' END AS queue, count(*)::int AS n,
       EXTRACT(EPOCH FROM now() - min(next_attempt_at))::float8 AS oldest
FROM lyrics_tasks WHERE status IN ('queued', 'submitted') AND next_attempt_at <= now()
GROUP BY 1;

-- lyrics.insert_receipt_within_limit
INSERT INTO lyrics_callback_receipts (task_id, kie_task_id, outcome, detail, remote_address, body, body_truncated)
SELECT $1, $2, $3, $4, $5, $6, $7
WHERE (SELECT count(*) FROM lyrics_callback_receipts WHERE task_id = $1) < $8;

-- lyrics.receipts_of
SELECT receipt.received_at AS "receivedAt", receipt.outcome, receipt.remote_address AS "remoteAddress"
FROM lyrics_callback_receipts AS receipt JOIN lyrics_tasks AS task ON task.id = receipt.task_id
WHERE receipt.task_id = $1 AND task.owner = $2
ORDER BY receipt.received_at, receipt.id;

-- unnamed
DELETE FROM lyrics_callback_receipts WHERE id IN (
SELECT id FROM lyrics_callback_receipts
WHERE received_at < now() - make_interval(days => $1) LIMIT $2);

-- unnamed
INSERT INTO lyrics_rate_slots (bucket, slot) SELECT $1, generate_series(1, $2) ON CONFLICT (bucket, slot) DO NOTHING;

-- unnamed
DELETE FROM lyrics_rate_slots WHERE bucket = $1 AND slot > $2;

-- lyrics.lock_free_slots
SELECT slot FROM lyrics_rate_slots
WHERE bucket = $1 AND used_at <= now() - make_interval(secs => $2::double precision / 1000)
ORDER BY used_at LIMIT $3
FOR UPDATE SKIP LOCKED;

-- lyrics.mark_slots_used
UPDATE lyrics_rate_slots SET used_at = clock_timestamp() WHERE bucket = $1 AND slot = ANY($2::int[]);

-- lyrics.ms_until_next_slot
SELECT GREATEST(0, EXTRACT(EPOCH FROM (MIN(used_at) + make_interval(secs => $2::double precision / 1000) - clock_timestamp())) * 1000)::float8 AS "waitMs"
FROM lyrics_rate_slots WHERE bucket = $1 AND used_at > '-infinity';

-- lyrics.lock_free_create_slots
SELECT account.name AS account, locked.slot,
       (SELECT count(*) FROM lyrics_rate_slots AS slot WHERE slot.bucket = 'create:' || account.name AND slot.used_at <= now() - make_interval(secs => $2::double precision / 1000))::int AS room
FROM lyrics_kie_accounts AS account
CROSS JOIN LATERAL (
  SELECT slot.slot FROM lyrics_rate_slots AS slot WHERE slot.bucket = 'create:' || account.name AND slot.used_at <= now() - make_interval(secs => $2::double precision / 1000)
  ORDER BY slot.used_at LIMIT $3
  FOR UPDATE OF slot SKIP LOCKED
) AS locked
WHERE account.name = ANY($1::text[]) AND account.paused_reason IS NULL
ORDER BY account.name;

-- lyrics.ms_until_next_create_slot
SELECT GREATEST(0, EXTRACT(EPOCH FROM (MIN(slot.used_at) + make_interval(secs => $2::double precision / 1000) - clock_timestamp())) * 1000)::float8 AS "waitMs"
FROM lyrics_kie_accounts AS account
JOIN lyrics_rate_slots AS slot ON slot.bucket = 'create:' || account.name
WHERE account.name = ANY($1::text[]) AND account.paused_reason IS NULL AND slot.used_at > '-infinity';

-- lyrics.register_accounts
INSERT INTO lyrics_kie_accounts (name) SELECT unnest($1::text[]) ON CONFLICT (name) DO NOTHING;

-- lyrics.pause_account
UPDATE lyrics_kie_accounts
SET paused_reason = $2, paused_at = clock_timestamp(), next_probe_at = clock_timestamp() + make_interval(secs => $3::double precision / 1000)
WHERE name = $1 AND paused_reason IS NULL
RETURNING name;

-- lyrics.claim_due_probe
UPDATE lyrics_kie_accounts SET next_probe_at = clock_timestamp() + make_interval(secs => $2::double precision / 1000)
WHERE name = (SELECT name FROM lyrics_kie_accounts
              WHERE name = ANY($1::text[]) AND next_probe_at <= now()
              ORDER BY next_probe_at LIMIT 1
              FOR UPDATE SKIP LOCKED)
RETURNING name, paused_reason AS reason;

-- lyrics.resume_account
UPDATE lyrics_kie_accounts SET paused_reason = NULL, paused_at = NULL, next_probe_at = NULL
WHERE name = $1 AND paused_reason IS NOT NULL
RETURNING name;

-- lyrics.ms_until_next_probe
SELECT (EXTRACT(EPOCH FROM (min(next_probe_at) - clock_timestamp())) * 1000)::float8 AS "waitMs"
FROM lyrics_kie_accounts WHERE name = ANY($1::text[]);

-- lyrics.account_states
SELECT name, paused_reason AS "pausedReason", paused_at AS "pausedAt"
FROM lyrics_kie_accounts WHERE name = ANY($1::text[]) ORDER BY name;

-- lyrics.database_now
SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::float8 AS "nowMs";

-- lyrics.event_page
SELECT id, type, created_at AS "createdAt", data, tx_id::text AS "txId", seq::text AS seq
FROM lyrics_events
WHERE owner = $1 AND (tx_id, seq) > ($2::bigint, $3::bigint)
  AND tx_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
ORDER BY tx_id, seq
LIMIT $4;

-- unnamed
DELETE FROM lyrics_events WHERE seq IN (
SELECT event.seq FROM lyrics_events AS event
WHERE event.created_at < now() - make_interval(days => $1)
  AND NOT EXISTS (SELECT 1 FROM lyrics_deliveries AS d WHERE d.event_seq = event.seq AND d.status = 'pending')
ORDER BY event.created_at LIMIT $2);

-- lyrics.record_and_claim_deliveries
WITH RECURSIVE recorded AS (
  UPDATE lyrics_deliveries AS d SET
    status = o.status,
    attempts = (CASE WHEN jsonb_array_length(d.attempts) >= $13 THEN d.attempts - 0 ELSE d.attempts END)
               || jsonb_build_array(jsonb_build_object(
                    'at', to_char((clock_timestamp() - make_interval(secs => o.started_ms_ago::double precision / 1000)) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                    'httpStatus', o.http_status, 'error', o.error, 'durationMs', o.duration_ms)),
    next_attempt_at = CASE WHEN o.status = 'pending' THEN clock_timestamp() + make_interval(secs => o.retry_in_ms::double precision / 1000) END,
    completed_at = CASE WHEN o.status <> 'pending' THEN clock_timestamp() END,
    lease_until = NULL, lease_token = NULL
  FROM unnest($5::bigint[], $6::uuid[], $7::text[], $8::int[], $9::text[], $10::int[], $11::double precision[], $12::double precision[])
       AS o(id, lease_token, status, http_status, error, duration_ms, retry_in_ms, started_ms_ago)
  WHERE d.id = o.id AND d.lease_token = o.lease_token
  RETURNING d.id::text AS id
), owners AS (
  SELECT (SELECT min(d.owner) FROM lyrics_deliveries AS d WHERE d.consumer = $1 AND d.status = 'pending' AND d.next_attempt_at <= now()) AS owner
  UNION ALL
  SELECT (SELECT min(d.owner) FROM lyrics_deliveries AS d WHERE d.consumer = $1 AND d.status = 'pending' AND d.next_attempt_at <= now() AND d.owner > owners.owner)
  FROM owners WHERE owners.owner IS NOT NULL
), candidates AS (
  SELECT candidate.id, candidate.next_attempt_at, candidate.turn
  FROM owners
  LEFT JOIN unnest($14::text[], $15::int[], $16::int[]) AS allowance(owner, n, skip)
    ON allowance.owner = owners.owner
  CROSS JOIN LATERAL (
    SELECT d.id, d.next_attempt_at, row_number() OVER (ORDER BY d.next_attempt_at) AS turn
    FROM lyrics_deliveries AS d
    WHERE d.consumer = $1 AND d.status = 'pending' AND d.next_attempt_at <= now() AND d.owner = owners.owner AND (d.lease_until IS NULL OR d.lease_until <= now())
      -- Its task's first pending event for this consumer: one probe of lyrics_deliveries_task_idx. Pending is
      -- tested as "has a next attempt time" (only pending deliveries have one), which matches no partial index:
      -- with status = 'pending' the planner walks the due index instead when its statistics count no pending rows.
      AND d.event_seq = (SELECT min(earlier.event_seq) FROM lyrics_deliveries AS earlier
                         WHERE earlier.task_id = d.task_id AND earlier.consumer = d.consumer
                           AND earlier.next_attempt_at IS NOT NULL)
    ORDER BY d.next_attempt_at
    LIMIT COALESCE(allowance.n, $3) OFFSET COALESCE(allowance.skip, $17)
  ) AS candidate
  WHERE owners.owner IS NOT NULL
), picked AS (
  -- By primary key, locked, and claimable still once locked (a row another instance claimed or recorded since
  -- this snapshot is read again). Due is tested by next_attempt_at alone (a delivery that is not pending has
  -- none): no test here matches the due index's predicate, so no statistics can make this a walk of the backlog.
  SELECT d.id FROM lyrics_deliveries AS d
  WHERE d.id = ANY (ARRAY(SELECT id FROM candidates ORDER BY turn, next_attempt_at LIMIT $2))
    AND d.next_attempt_at <= now() AND (d.lease_until IS NULL OR d.lease_until <= now()) AND d.id <> ALL ($5::bigint[])
  FOR UPDATE SKIP LOCKED
), claimed AS (
  UPDATE lyrics_deliveries AS d
  SET lease_until = now() + make_interval(secs => $4::double precision / 1000), lease_token = gen_random_uuid(), attempt_count = d.attempt_count + 1
  FROM picked, lyrics_events AS event
    LEFT JOIN lyrics_webhook_secrets AS secrets ON secrets.owner = event.owner
  WHERE d.id = picked.id AND event.seq = d.event_seq
  RETURNING d.id::text AS id, d.lease_token AS "leaseToken", d.owner, d.task_id AS "taskId", d.url,
            d.attempt_count AS attempt, event.id AS "eventId", event.type,
            CASE WHEN $1 = 'host' THEN event.data END AS data,
            CASE WHEN $1 = 'webhook' THEN jsonb_build_object(
              'id', event.id, 'type', event.type,
              'createdAt', to_char(event.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
              'data', event.data)::text END AS body,
            secrets.secret, CASE WHEN secrets.previous_until > now() THEN secrets.previous_secret END AS "previousSecret"
)
SELECT NULL AS recorded, claimed.* FROM claimed
UNION ALL
SELECT recorded.id::text, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM recorded;

-- lyrics.record_delivery_attempts
UPDATE lyrics_deliveries AS d SET
  status = o.status,
  attempts = (CASE WHEN jsonb_array_length(d.attempts) >= $9 THEN d.attempts - 0 ELSE d.attempts END)
             || jsonb_build_array(jsonb_build_object(
                  'at', to_char((clock_timestamp() - make_interval(secs => o.started_ms_ago::double precision / 1000)) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                  'httpStatus', o.http_status, 'error', o.error, 'durationMs', o.duration_ms)),
  next_attempt_at = CASE WHEN o.status = 'pending' THEN clock_timestamp() + make_interval(secs => o.retry_in_ms::double precision / 1000) END,
  completed_at = CASE WHEN o.status <> 'pending' THEN clock_timestamp() END,
  lease_until = NULL, lease_token = NULL
FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::int[], $5::text[], $6::int[], $7::double precision[], $8::double precision[])
     AS o(id, lease_token, status, http_status, error, duration_ms, retry_in_ms, started_ms_ago)
WHERE d.id = o.id AND d.lease_token = o.lease_token
RETURNING d.id::text AS id;

-- lyrics.release_delivery_claims
UPDATE lyrics_deliveries AS d SET lease_until = NULL, lease_token = NULL, attempt_count = d.attempt_count - 1
FROM unnest($1::bigint[], $2::uuid[]) AS claim(id, lease_token)
WHERE d.id = claim.id AND d.lease_token = claim.lease_token;

-- lyrics.webhook_deliveries_of
SELECT event.id AS "eventId", event.type, d.url, d.status, d.attempts, d.next_attempt_at AS "nextAttemptAt"
FROM lyrics_deliveries AS d JOIN lyrics_events AS event ON event.seq = d.event_seq
WHERE d.task_id = $1 AND d.consumer = 'webhook' AND d.owner = $2
ORDER BY d.event_seq;

-- unnamed
SELECT consumer, count(*)::int AS n, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS oldest
FROM lyrics_deliveries WHERE status = 'pending'
GROUP BY consumer;

-- lyrics.webhook_secrets
WITH made AS (
  INSERT INTO lyrics_webhook_secrets (owner, secret) VALUES ($1, $2) ON CONFLICT (owner) DO NOTHING RETURNING secret
)
SELECT secret, NULL AS previous FROM made
UNION ALL
SELECT secret, CASE WHEN previous_until > now() THEN previous_secret END AS previous
FROM lyrics_webhook_secrets WHERE owner = $1;

-- lyrics.rotate_webhook_secret
INSERT INTO lyrics_webhook_secrets (owner, secret) VALUES ($1, $2)
ON CONFLICT (owner) DO UPDATE SET
  previous_secret = lyrics_webhook_secrets.secret,
  previous_until = clock_timestamp() + make_interval(secs => $3),
  secret = EXCLUDED.secret,
  rotated_at = clock_timestamp()
RETURNING secret;
