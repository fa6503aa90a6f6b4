-- wrk script: document upserts shaped like the consumer's (headers and a ~300-byte body), so
-- that the sink's request rate is measured alone.
wrk.method = "POST"
wrk.path = "/dbs/workload/colls/messages/docs"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-ms-version"] = "2018-12-31"
wrk.headers["x-ms-documentdb-is-upsert"] = "true"
wrk.headers["x-ms-documentdb-partitionkey"] = '["00000000-0000-4000-8000-000000000000"]'
wrk.headers["authorization"] = "type%3Dmaster%26ver%3D1.0%26sig%3DAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D"
wrk.body = '{"id":"00000000-0000-4000-8000-000000000000","data":"Scale Test Message : COUNT 1",'
    .. '"srcStamp":"2026-12-04 06:14:27.123456","destStamp":"2026-12-04 06:14:27.125456",'
    .. '"messageProcessingTime":0.002,"sequenceNumber":1,"enqueuedTime":"2026-12-04T06:14:27.124Z",'
    .. '"deliveryCount":1}'
