"""spark-submit app: score_stream with Spark's own Kafka connector (on --jars) and available_now=True.

argv: bootstrap topic model out checkpoint [sasl_user sasl_password]. With the last two it reads
through a SASL_PLAINTEXT / PLAIN listener. Prints one JSON line: the connector's endOffset and the
seconds the query took to stop by itself.
"""
import json
import sys
import time

from pyspark.sql import SparkSession

import sparkdl


def main(bootstrap, topic, model, out, checkpoint, user=None, password=None):
    spark = SparkSession.builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    started = time.time()
    sasl = dict(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN", sasl_username=user,
                sasl_password=password) if user else {}
    source = sparkdl.KafkaSource(bootstrap, topic, schema="id long, features array<float>", **sasl)
    query = sparkdl.score_stream(spark, model, source=source,
                                 sink=sparkdl.ParquetSink(out), checkpoint_location=checkpoint,
                                 available_now=True, max_records_per_trigger=40)
    stopped = query.awaitTermination(150)
    fmt = query.lastProgress["sources"][0]["description"] if query.lastProgress else None
    end = query.lastProgress["sources"][0]["endOffset"] if query.lastProgress else None
    if not stopped:
        query.stop()
    print(json.dumps({"stopped": stopped, "seconds": time.time() - started, "end": end, "source": fmt}))


if __name__ == "__main__":
    main(*sys.argv[1:])
