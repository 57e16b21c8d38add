"""The Scrapy side of storewatch: settings, items, pipelines, middlewares, the replay server and the CLI."""
